using System.Web;
using BlockSim.Nbd.Client;

namespace BlockSim.LoadTest;

/// <summary>Connects to an NBD URI (the subset of the NBD URI standard the reference tools share).</summary>
public static class NbdTarget
{
    public static Task<NbdClient> ConnectAsync(string url, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        var export = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        var options = new NbdClientOptions { ExportName = export };
        return uri.Scheme switch
        {
            "nbd" => NbdClient.ConnectTcpAsync(uri.Host, uri.Port > 0 ? uri.Port : 10809, options, cancellationToken),
            "nbd+unix" => NbdClient.ConnectUnixAsync(
                HttpUtility.ParseQueryString(uri.Query)["socket"] ?? throw new ArgumentException($"{url}: nbd+unix needs ?socket=PATH."),
                options,
                cancellationToken),
            _ => throw new ArgumentException($"{url}: use nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH."),
        };
    }
}
