using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using BlockSim.Crypto;
using BlockSim.Nbd.Exports;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim serve</c>: with no arguments, an embedded default that needs no configuration: a data
/// directory with a sealed key store (unsealed by a generated key file beside it, which the command states
/// at start-up) and a 1 GiB encrypted, file-backed volume named <c>default</c>, created on the first run and
/// reused after. Every volume in the directory is served.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 10809;

    public static Command Create()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = $"TCP address to listen on, ADDR:PORT (repeatable). Default: 127.0.0.1:{DefaultPort}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var socket = new Option<string?>("--socket")
        {
            Description = "Unix socket to listen on, or 'none'. Default: DATA-DIR/nbd.sock.",
        };
        var size = new Option<string>("--size")
        {
            Description = "Size of the default volume when it is first created (bytes, or with K, M, G, T). Default: 1G.",
            DefaultValueFactory = _ => "1G",
        };
        var memory = new Option<bool>("--memory") { Description = "Serve an in-memory export instead (not persistent, not encrypted)." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log each connection and option." };

        var simulation = new SimulationOptions();
        var command = new Command("serve", "Serve block devices over NBD.") { listen, socket, size, memory, verbose };
        foreach (var option in simulation.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((result, cancellationToken) =>
        {
            if (!simulation.TryBuild(result, out var wrap, out var cache, out var error))
            {
                Console.Error.WriteLine(error);
                return Task.FromResult(ExitCodes.Usage);
            }

            return RunAsync(
                new ServeSettings(
                    result.GetValue(listen) ?? [],
                    result.GetValue(socket),
                    result.GetValue(size)!,
                    CliContext.Data(result),
                    result.GetValue(memory),
                    result.GetValue(verbose),
                    wrap,
                    cache,
                    SimulationOptions.Describe(result, simulation)),
                cancellationToken);
        });
        return command;
    }

    private sealed record ServeSettings(
        string[] Listen,
        string? Socket,
        string Size,
        DataDirectory Data,
        bool Memory,
        bool Verbose,
        Func<BlockSim.Storage.IBlockDevice, BlockSim.Storage.IBlockDevice>? Simulation,
        Func<BlockSim.Storage.Simulation.VolatileCacheDevice?> Cache,
        string SimulationSummary);

    private static async Task<int> RunAsync(ServeSettings settings, CancellationToken cancellationToken)
    {
        var (listen, socketPath, sizeText, verbose) = (settings.Listen, settings.Socket, settings.Size, settings.Verbose);
        using var loggerFactory = LoggerFactory.Create(builder => builder
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            })
            .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information));
        var logger = loggerFactory.CreateLogger("blocksim");

        if (!Sizes.TryParse(sizeText, out var size) || size <= 0 || size % 4096 != 0)
        {
            Console.Error.WriteLine($"--size {sizeText}: give a positive size in bytes (a multiple of 4096), or with K, M, G or T, e.g. 1G.");
            return ExitCodes.Usage;
        }

        var endpoints = new List<IPEndPoint>();
        foreach (var text in listen.Length == 0 ? [$"127.0.0.1:{DefaultPort}"] : listen)
        {
            if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"--listen {text}: give ADDR:PORT, e.g. 127.0.0.1:{DefaultPort} or [::1]:{DefaultPort}.");
                return ExitCodes.Usage;
            }

            endpoints.Add(endpoint);
        }

        try
        {
            logger.LogInformation("XTS tier: {Tier} ({Cpu})", XtsTiers.Default, XtsTiers.DescribeCpu());
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Usage;
        }

        IReadOnlyList<INbdExport> exports;
        IDisposable? keyStore = null;
        try
        {
            exports = settings.Memory ? [MemoryDefault(size, logger)] : OpenVolumes(settings.Data, size, settings.Simulation, logger, out keyStore);
        }
        catch (Exception e) when (e is IOException or VolumeKeyException or KeyStoreException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e.Message);
            return e is KeyStoreException { ErrorCode: "AccessDeniedException" } ? ExitCodes.Denied : ExitCodes.IOError;
        }

        using var keyStoreLifetime = keyStore; // disposing zeroes the store's root key
        await using var server = new NbdServer(new ExportRegistry(exports, "default"), new NbdServerOptions(), loggerFactory.CreateLogger("blocksim.nbd"));
        try
        {
            foreach (var endpoint in endpoints)
            {
                server.ListenTcp(endpoint);
            }

            socketPath ??= settings.Data.DefaultSocket;
            if (socketPath != "none")
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(socketPath))!);
                server.ListenUnix(socketPath);
            }
        }
        catch (IOException e)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.IOError;
        }

        if (settings.SimulationSummary.Length > 0)
        {
            logger.LogWarning("Simulating device behaviour under the encryption: {Simulation}", settings.SimulationSummary);
        }

        // SIGUSR1 (10 on Linux) is the simulated power cut: unflushed writes in the volatile cache are lost.
        using var powerCut = PosixSignalRegistration.Create((PosixSignal)10, context =>
        {
            context.Cancel = true;
            if (settings.Cache() is { } cache)
            {
                logger.LogWarning("Simulated power cut: {Lost} unflushed sectors lost.", cache.PowerCut());
            }
            else
            {
                logger.LogInformation("SIGUSR1 ignored: no --volatile-cache to cut power to.");
            }
        });

        PrintAttachHelp(server, socketPath);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            logger.LogInformation("Stopping: answering requests in flight, then closing connections.");
        }

        await server.StopAsync().ConfigureAwait(false);
        foreach (var export in exports)
        {
            await export.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            (export as IDisposable)?.Dispose(); // zeroes the volume key
        }

        return ExitCodes.Ok;
    }

    private static INbdExport MemoryDefault(long size, ILogger logger)
    {
        logger.LogWarning("--memory: the default export is an in-memory device of {Size} bytes, not encrypted, lost when blocksim stops.", size);
        return new MemoryExport("default", size, "in-memory export (not persistent, not encrypted)");
    }

    /// <summary>
    /// Creates the default volume on the first run, then serves every volume in the data directory (each
    /// NAME.vol as export NAME). Keys are fetched when a client attaches.
    /// </summary>
    private static IReadOnlyList<INbdExport> OpenVolumes(DataDirectory data, long size, Func<BlockSim.Storage.IBlockDevice, BlockSim.Storage.IBlockDevice>? simulation, ILogger logger, out IDisposable keyStore)
    {
        var store = data.OpenOrCreateKeyStore(out var created);
        keyStore = store;
        if (created)
        {
            logger.LogInformation("Created the sealed key store {Store} with the default key {Alias}.", data.KeyStorePath, SealedKeyStore.DefaultAlias);
        }

        foreach (var problem in store.CheckCopies())
        {
            logger.LogWarning("Key store: {Problem}; the good copy is used and the next change rewrites both.", problem);
        }

        var keys = new KeyStoreVolumeKeys(store);
        var path = data.VolumePath("default");
        if (!File.Exists(path))
        {
            Volume.Create(path, size, keys, owner: DataDirectory.LocalPrincipal);
            logger.LogInformation("Created the encrypted volume {Path} ({Size} bytes, sparse).", path, size);
        }

        var exports = Directory.GetFiles(data.VolumesPath, "*.vol").Order()
            .Select(volume => new VolumeExport(Path.GetFileNameWithoutExtension(volume), volume, keys, simulation, logger))
            .ToList();
        var defaultExport = exports.Single(e => e.Name == "default");
        if (defaultExport.Size != size)
        {
            logger.LogInformation("Volume {Path} is {Capacity} bytes; --size only applies when a volume is created.", path, defaultExport.Size);
        }

        logger.LogWarning(
            "The key store is sealed by the key file {KeyFile} (mode 0600) beside it. That protects the volumes and the store if they are copied without it, not if the machine or that file is taken. Key use is audited in {Audit}.",
            data.KeyFilePath,
            store.AuditLogPath);
        return exports;
    }

    private static void PrintAttachHelp(NbdServer server, string socketPath)
    {
        var tcp = server.Endpoints.OfType<IPEndPoint>().First();
        var host = tcp.Address.Equals(IPAddress.Any) ? "127.0.0.1" : tcp.Address.ToString();
        var url = tcp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"nbd://[{host}]:{tcp.Port}/default" : $"nbd://{host}:{tcp.Port}/default";
        Console.WriteLine();
        Console.WriteLine($"Serving exports: {string.Join(", ", server.Exports.All.Select(e => e.Name))}. Attach the default one with:");
        Console.WriteLine($"  nbdinfo {url}");
        Console.WriteLine($"  qemu-img info {url}");
        Console.WriteLine($"  sudo nbd-client {host} {tcp.Port} /dev/nbd0 -N default");
        if (socketPath != "none")
        {
            Console.WriteLine($"  nbdinfo 'nbd+unix:///default?socket={Path.GetFullPath(socketPath)}'");
        }

        Console.WriteLine("Press Ctrl+C to stop.");
        Console.WriteLine();
    }
}
