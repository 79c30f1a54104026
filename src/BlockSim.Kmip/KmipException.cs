namespace BlockSim.Kmip;

/// <summary>A KMIP exchange that did not succeed; the subclass says whether the server was unreachable, refused the TLS handshake, failed the operation, or answered nonsense.</summary>
public abstract class KmipException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The server could not be reached, or did not answer in time: nothing was decided, a later try may succeed.</summary>
public sealed class KmipUnavailableException(string message, Exception? inner = null) : KmipException(message, inner);

/// <summary>The TLS handshake failed: the server refused this client's certificate, or its own does not chain to the CA given.</summary>
public sealed class KmipHandshakeException(string message, bool serverCertificateRejected, Exception? inner = null) : KmipException(message, inner)
{
    /// <summary>True when this client refused the server's certificate; false when the server refused the handshake.</summary>
    public bool ServerCertificateRejected { get; } = serverCertificateRejected;
}

/// <summary>The server answered the operation with Operation Failed.</summary>
public sealed class KmipOperationException(KmipOperation operation, KmipResultReason? reason, string? serverMessage)
    : KmipException($"The KMIP server failed {operation}: {KmipResultReasons.Describe(reason)}{(string.IsNullOrWhiteSpace(serverMessage) ? "" : $" (the server says: {serverMessage})")}.")
{
    public KmipOperation Operation { get; } = operation;

    public KmipResultReason? Reason { get; } = reason;

    public string? ServerMessage { get; } = serverMessage;
}

/// <summary>The server's answer is not a KMIP response this client can use (malformed TTLV, a missing field, the wrong operation).</summary>
public sealed class KmipProtocolException(string message, Exception? inner = null) : KmipException(message, inner);

/// <summary>The client's own settings cannot be used: a CA, certificate or private key file missing or unreadable.</summary>
public sealed class KmipConfigurationException(string message, Exception? inner = null) : KmipException(message, inner);
