using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// HTTP/1.1 + JSON to the daemon's admin socket, for the CLI. A refusal comes back as a
/// <see cref="KeyStoreException"/> with the daemon's error code and message (so the CLI's exit codes hold).
/// </summary>
internal sealed class AdminConnection : IDisposable
{
    private readonly HttpClient _http;

    public AdminConnection(string socketPath)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellation) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellation).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://blocksim/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public string SocketPath { get; }

    /// <summary>Whether a daemon listens at <paramref name="socketPath"/>: false for no socket or a stale one; a socket this user may not use is an error.</summary>
    public static bool IsServed(string socketPath)
    {
        if (!File.Exists(socketPath))
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new KeyStoreException(KeyStoreErrors.AccessDenied, $"A daemon listens on {socketPath}, but you may not connect to it (permission denied): its owner and the members of its group may.");
        }
        catch (SocketException)
        {
            return false; // nobody listens: a socket left by a daemon that died
        }
    }

    /// <summary>One request; throws <see cref="KeyStoreException"/> with the daemon's error when it is refused.</summary>
    public T Send<T>(HttpMethod method, string path, object? body = null, TimeSpan? timeout = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body, AdminJson.Options), Encoding.UTF8, "application/json");
        }

        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        HttpResponseMessage response;
        try
        {
            response = _http.Send(request, cancel.Token);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new KeyStoreException(KeyStoreErrors.KmsInternal, $"The daemon's admin socket {SocketPath} did not answer {method} /{path}: {e.Message}");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var error = Read<AdminError>(response);
                throw new KeyStoreException(error?.ErrorCode ?? KeyStoreErrors.KmsInternal, error?.Message ?? $"The daemon answered {method} /{path} with HTTP {(int)response.StatusCode}.");
            }

            return Read<T>(response) ?? throw new KeyStoreException(KeyStoreErrors.KmsInternal, $"The daemon answered {method} /{path} with nothing.");
        }
    }

    public void Dispose() => _http.Dispose();

    private static T? Read<T>(HttpResponseMessage response)
    {
        try
        {
            using var body = response.Content.ReadAsStream();
            return JsonSerializer.Deserialize<T>(body, AdminJson.Options);
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
