using System.Text.Json;
using BlockSim.Daemon.Service;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The daemon's local admin socket: HTTP/1.1 + JSON on a Unix socket (never TCP), mode 0660 with a group of
/// its own (0600 when that group does not exist). Every caller is named by the kernel (SO_PEERCRED uid →
/// <c>user:NAME</c>), never by what it sends, and the key store's policies and grants decide what that
/// principal may do, as for any other caller; every request is audited by the store.
/// </summary>
internal sealed class AdminEndpoint : IAsyncDisposable
{
    private const long MaxRequestBytes = 1024 * 1024; // policies are a few KiB
    private readonly WebApplication _app;
    private readonly string _path;

    private AdminEndpoint(WebApplication app, string path, string access)
    {
        _app = app;
        _path = path;
        Access = access;
    }

    /// <summary>Who may connect, as applied (mode and group).</summary>
    public string Access { get; }

    /// <summary>Where the socket is.</summary>
    public string Path => _path;

    /// <summary>
    /// Listens on <paramref name="path"/> (a stale socket there is replaced, a live one refused) and serves
    /// the key store <paramref name="store"/> gives (null: this daemon has none open).
    /// </summary>
    public static AdminEndpoint Start(string path, AdminSocketAccess access, Func<SealedKeyStore?> store, IReadOnlyDictionary<string, ExportSimulation> exports, NbdServer server, ILoggerFactory loggerFactory, ILogger logger)
    {
        if (File.Exists(path))
        {
            UnixSocketFile.RemoveStale(path);
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "blocksim-admin" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<IHostLifetime, DaemonOwnsLifetime>(); // SIGINT and SIGTERM are the daemon's to handle
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBytes;
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.ListenUnixSocket(path);
        });
        var app = builder.Build();
        app.MapGet("/v1/keystore", (HttpContext http) => Answer(http, StatusCodes.Status200OK, new KeyStoreStatus(store() is not null)));
        app.MapPost("/v1/keystore/{operation}", (HttpContext http, string operation) => KeyStoreAsync(http, operation, store));
        ControlRoutes.Map(app, exports, server, logger);
        StatusRoute.Map(app, server, store);
        RecordRoutes.Map(app, exports, Recordings.Folder(path, dataRoot: ""), logger);
        app.MapFallback((HttpContext http) => Answer(http, StatusCodes.Status404NotFound, new AdminError("NotFound", $"No admin API at {http.Request.Method} {http.Request.Path}: the key store is at POST /v1/keystore/OPERATION, the simulation at /v1/exports/NAME/...")));
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
            var described = access.Apply(path);
            return new AdminEndpoint(app, path, described);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new IOException($"Cannot listen on the admin socket {path}: {e.Message} Choose another path with --control (\"control\" in the configuration), or 'none'.", e);
        }

    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        File.Delete(_path);
    }

    private static async Task KeyStoreAsync(HttpContext http, string operation, Func<SealedKeyStore?> openStore)
    {
        if (PeerOf(http) is not { } peer)
        {
            await Answer(http, StatusCodes.Status403Forbidden, new AdminError(KeyStoreErrors.AccessDenied, "The caller's credentials could not be read from the socket.")).ConfigureAwait(false);
            return;
        }

        if (!KeyStoreDispatch.Operations.Contains(operation))
        {
            await Answer(http, StatusCodes.Status404NotFound, new AdminError(KeyStoreErrors.UnknownOperation, $"There is no key-store operation '{operation}'.")).ConfigureAwait(false);
            return;
        }

        if (openStore() is not { } store)
        {
            await Answer(http, StatusCodes.Status409Conflict, new AdminError(AdminSocketClient.NoKeyStore, "This daemon serves no key store (memory exports only); use the store offline with its key file.")).ConfigureAwait(false);
            return;
        }

        if (await ReadAsync<KeyStoreCall>(http, operation).ConfigureAwait(false) is not { } call)
        {
            return;
        }

        var caller = new KeyRequestContext(peer.Principal) { AuthenticatedBy = peer.Evidence };
        try
        {
            if (call.ActAs is { } claimed)
            {
                store.Refuse(operation, caller, call.KeyId, KeyStoreErrors.AccessDenied, $"{caller.Principal} asked to act as {claimed}: the admin socket names its callers from the kernel, and --as is only for the key file's holder offline.");
            }

            using var admin = new LocalKeyAdministration(store, caller, ownsStore: false);
            await Answer(http, StatusCodes.Status200OK, KeyStoreDispatch.Run(admin, operation, call)).ConfigureAwait(false);
        }
        catch (KeyStoreException e)
        {
            await Answer(http, StatusFor(e.ErrorCode), new AdminError(e.ErrorCode, e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Answer(http, StatusCodes.Status500InternalServerError, new AdminError(KeyStoreErrors.KmsInternal, e.Message)).ConfigureAwait(false);
        }
    }

    private static int StatusFor(string errorCode) => errorCode switch
    {
        KeyStoreErrors.NotFound => StatusCodes.Status404NotFound,
        KeyStoreErrors.AccessDenied => StatusCodes.Status403Forbidden,
        KeyStoreErrors.Disabled or KeyStoreErrors.KmsInvalidState or KeyStoreErrors.AlreadyExists => StatusCodes.Status409Conflict,
        KeyStoreErrors.Validation or KeyStoreErrors.MalformedPolicyDocument => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The request's JSON body (an empty body is an empty object); null once a 400 naming the fault has been answered.</summary>
    public static async Task<T?> ReadAsync<T>(HttpContext http, string what)
        where T : class, new()
    {
        try
        {
            return http.Request.ContentLength == 0 ? new T()
                : await JsonSerializer.DeserializeAsync<T>(http.Request.Body, AdminJson.Options, http.RequestAborted).ConfigureAwait(false) ?? new T();
        }
        catch (JsonException e)
        {
            var problem = e.Message.Contains("could not be mapped", StringComparison.Ordinal) ? $"{e.Path}: no such field" : e.Message;
            await Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, $"The request body is not a valid {what} request: {problem}")).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>The caller as the kernel names it, for logs: user:NAME (uid N).</summary>
    public static string CallerOf(HttpContext http) => PeerOf(http) is { } peer ? $"{peer.Principal} (uid {peer.Uid})" : "unknown";

    private static PeerCredentials? PeerOf(HttpContext http) =>
        http.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket ? PeerCredentials.Of(socket) : null;

    public static Task Answer(HttpContext http, int status, object? body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(http.Response.Body, body, AdminJson.Options, http.RequestAborted);
    }

    /// <summary>The admin socket starts and stops with the daemon, which handles the signals; this host takes none of its own.</summary>
    private sealed class DaemonOwnsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
