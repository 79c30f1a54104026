using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Client;

/// <summary>The server answered a request or an option with an error.</summary>
public sealed class NbdClientException(NbdError error, string message) : Exception(message)
{
    public NbdError Error { get; } = error;
}
