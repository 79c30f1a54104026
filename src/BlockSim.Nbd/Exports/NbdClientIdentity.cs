namespace BlockSim.Nbd.Exports;

/// <summary>
/// Who is on the other end of a connection: the subject of the client certificate verified during TLS
/// (for example <c>CN=alice</c>), or <see cref="Anonymous"/> without one, together with where the client
/// connects from. Access lists on exports and key-store policy conditions test it.
/// </summary>
public sealed record NbdClientIdentity(string Name, string Address, bool Tls, long ConnectionId)
{
    public const string Anonymous = "anonymous";

    public override string ToString() => $"{Name} from {Address}{(Tls ? " (TLS)" : "")}";
}
