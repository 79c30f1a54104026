using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// A minimal HTTP/1.1 endpoint for Prometheus on a loopback address: GET /metrics answers the scrape (HEAD
/// its head), another method there 405, another path 404, one request per connection. Loopback only, because the figures name exports and say
/// how busy they are; put a proxy in front to publish them.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    private const int MaxRequestBytes = 8192;
    private readonly Socket _listener;
    private readonly PrometheusExporter _exporter;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public MetricsEndpoint(IPEndPoint endpoint, PrometheusExporter exporter)
    {
        if (!IPAddress.IsLoopback(endpoint.Address))
        {
            throw new ArgumentException($"The metrics endpoint listens on loopback only (e.g. 127.0.0.1:9187), not {endpoint}.");
        }

        _exporter = exporter;
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(endpoint);
            _listener.Listen(16);
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            throw new IOException($"Cannot listen for metrics on {endpoint}: {e.Message}. Choose another address with --metrics.", e);
        }

        _accepting = AcceptAsync();
    }

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                continue; // the loop condition ends it on stop
            }

            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(Socket client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(5)); // a scraper that sends nothing does not hold a socket
        try
        {
            var request = await ReadHeadAsync(client, timeout.Token).ConfigureAwait(false);
            var (status, body, allow) = Route(request);
            var bytes = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {bytes.Length}\r\n{(allow ? "Allow: GET, HEAD\r\n" : "")}Connection: close\r\n\r\n";
            await client.SendAsync(Encoding.ASCII.GetBytes(head), timeout.Token).ConfigureAwait(false);
            if (!request.StartsWith("HEAD ", StringComparison.Ordinal))
            {
                await client.SendAsync(bytes, timeout.Token).ConfigureAwait(false); // HEAD: the same head, no body
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
        {
            // The scraper left or was too slow; nothing to answer.
        }
    }

    /// <summary>
    /// What a request gets, as HTTP says: GET and HEAD of /metrics the scrape (HEAD its head alone), another
    /// method there 405 with Allow, another path 404, a request line that is not one 400.
    /// </summary>
    private (string Status, string Body, bool Allow) Route(string request)
    {
        var line = request.Split("\r\n", 2)[0].Split(' ');
        if (line is not [var method, var target, var version] || !version.StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return ("400 Bad Request", "Bad request: expected GET /metrics HTTP/1.1\n", false);
        }

        var path = target.Split('?', 2)[0];
        return path != "/metrics" ? ("404 Not Found", "Not found: metrics are at /metrics\n", false)
            : method is "GET" or "HEAD" ? ("200 OK", _exporter.Scrape(), false)
            : ("405 Method Not Allowed", $"{method} is not allowed here: GET /metrics (or HEAD)\n", true);
    }

    /// <summary>Reads up to the blank line that ends the request head (at most 8 KiB).</summary>
    private static async Task<string> ReadHeadAsync(Socket client, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await client.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }

        return Encoding.ASCII.GetString(buffer, 0, length);
    }
}
