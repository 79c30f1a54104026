namespace BlockSim.Kmip.Ttlv;

/// <summary>Bytes that are not a well-formed TTLV item: truncated, a length that does not fit its type, an unknown type, too deep.</summary>
public sealed class TtlvFormatException(string message) : Exception(message);
