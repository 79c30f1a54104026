namespace BlockSim.Nbd.Server;

/// <summary>One open connection as a status report shows it: Client is the verified certificate's name or "anonymous"; Export is null while the client haggles.</summary>
public sealed record NbdConnectionStatus(long Id, string Client, string Address, bool Tls, string? Export);
