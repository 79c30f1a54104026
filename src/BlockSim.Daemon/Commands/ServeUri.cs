using System.Net;
using System.Net.Sockets;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// The NBD URIs (the NBD project's URI format, as nbdinfo, nbdcopy and qemu take them) of where a started
/// server listens: nbd://HOST:PORT/EXPORT for TCP, nbd+unix:///EXPORT?socket=PATH for the Unix socket, with
/// the nbds schemes where TLS is required.
/// </summary>
internal sealed record ServeUri(string Uri, string Export, int? Port, string? UnixSocket)
{
    /// <summary>The first TCP listener's URI, else the Unix socket's (or, with <paramref name="preferUnix"/>, the other way round); null when neither listens.</summary>
    public static ServeUri? Of(NbdServer server, string? socketPath, NbdTlsMode socketTls, bool preferUnix)
    {
        var export = server.Exports.DefaultName;
        var tcp = server.Endpoints.OfType<IPEndPoint>().FirstOrDefault() is { } endpoint ? Tcp(endpoint, server.TlsModeOf(endpoint), export) : null;
        var unix = socketPath is null or "none" ? null : Unix(Path.GetFullPath(socketPath), socketTls, export);
        return preferUnix ? unix ?? tcp : tcp ?? unix;
    }

    /// <summary>The host part a client dials: 127.0.0.1 for a wildcard address, brackets for IPv6.</summary>
    public static string Authority(IPEndPoint endpoint)
    {
        var host = endpoint.Address.Equals(IPAddress.Any) ? "127.0.0.1" : endpoint.Address.Equals(IPAddress.IPv6Any) ? "::1" : endpoint.Address.ToString();
        return endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]:{endpoint.Port}" : $"{host}:{endpoint.Port}";
    }

    private static ServeUri Tcp(IPEndPoint endpoint, NbdTlsMode tls, string export) =>
        new($"{(tls == NbdTlsMode.Require ? "nbds" : "nbd")}://{Authority(endpoint)}/{System.Uri.EscapeDataString(export)}", export, endpoint.Port, null);

    private static ServeUri Unix(string path, NbdTlsMode tls, string export) =>
        new($"{(tls == NbdTlsMode.Require ? "nbds+unix" : "nbd+unix")}:///{System.Uri.EscapeDataString(export)}?socket={path}", export, null, path);
}
