using BlockSim.Storage;
using System.CommandLine;
using System.Net;
using BlockSim.Crypto;
using BlockSim.Daemon.Metrics;
using BlockSim.Daemon.Service;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Etcd;
using BlockSim.Daemon.Volumes;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim serve</c>: with no arguments, an embedded default that needs no configuration: a data
/// directory with a sealed key store (unsealed by a generated key file beside it, which the command states
/// at start-up) and a 1 GiB encrypted, file-backed volume named <c>default</c>, created on the first run and
/// reused after (never re-created: once the directory holds a key store, a missing one is an error). Every
/// volume in the directory is served. <c>--config</c> names the exports instead (see
/// <see cref="DaemonOptions"/>).
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 10809;

    public static Command Create()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = $"TCP address to listen on, ADDR:PORT[,tls=off|on|require] (repeatable). Default: 127.0.0.1:{DefaultPort}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var socket = new Option<string?>("--socket") { Description = "Unix socket to listen on, or 'none'. Default: DATA-DIR/nbd.sock." };
        var size = new Option<string?>("--size") { Description = "Size of the volume 'default' when it is first created (bytes, or with K, M, G, T). Default: 1G." };
        var memory = new Option<bool>("--memory") { Description = "Serve one in-memory export 'default' instead (not persistent; not encrypted unless --encrypted)." };
        var encrypted = new Option<bool>("--encrypted") { Description = "With --memory: encrypt it under a random key that exists only in this process (volumes are always encrypted)." };
        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus metrics on this loopback ADDR:PORT at /metrics, e.g. 127.0.0.1:9187." };
        var controlGroup = new Option<string?>("--control-group") { Description = $"The group whose members may use the admin socket (--control). Default: {Admin.AdminSocketAccess.DefaultGroup}; without it, the daemon's user only." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log each connection and option." };
        var tlsDir = new Option<string?>("--tls-dir") { Description = "TLS credentials as 'blocksim tls init' writes them: server-cert.pem, server-key.pem, and ca-cert.pem to verify client certificates." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Server certificate (PEM) for NBD STARTTLS." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The server certificate's private key (PEM)." };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "CA bundle (PEM) that client certificates must chain to; clients are asked for one only with this." };
        var tls = new Option<string?>("--tls") { Description = "TLS mode for listeners that name none: off, on (optional) or require. Default: require once a certificate is given." };
        var pidFile = new Option<string?>("--pid-file", "-P", "--pidfile") { Description = "Write the daemon's process id to FILE once it listens (removed at a graceful stop), as nbdkit's --pidfile." };
        var exitWithParent = new Option<bool>("--exit-with-parent") { Description = "Stop (gracefully) when the process that started the daemon exits, as nbdkit's." };
        var run = new Option<string?>("--run") { Description = "Captive mode, as nbdkit's: once listening, run CMD with /bin/sh, the server's URI in $uri (also $exportname, $unixsocket, $port); stop when it exits and exit with its status. Without --listen or --socket it listens on a private Unix socket only. E.g. --run 'nbdinfo \"$uri\"'." };
        var printUri = new Option<bool>("--print-uri") { Description = "Print the URI clients connect to (one line on standard output; the log goes to standard error), instead of the attach help." };
        var exportName = new Option<string?>("--export", "-e", "--exportname") { Description = "The default export (the one a client that names none gets); with --memory, the name of its one export. Default: default." };
        var check = new Option<bool>("--check") { Description = "Check the configuration and the flags as serve would (listeners, TLS files, the key store's slots, each export's volume), print what would be served, and exit: 0 when it would serve. Binds nothing, unseals nothing, creates nothing." };

        var simulation = new SimulationOptions();
        var command = new Command("serve", "Serve block devices over NBD.") { listen, socket, size, memory, encrypted, metrics, controlGroup, verbose, tlsDir, tlsCert, tlsKey, tlsCa, tls, pidFile, exitWithParent, run, printUri, exportName, check };
        foreach (var option in simulation.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(async result =>
        {
            DaemonOptions options;
            try
            {
                options = DaemonOptions.Load(result.GetValue(CliContext.Config));
            }
            catch (ConfigurationProblem e)
            {
                Console.Error.WriteLine(e.Message);
                return ExitCodes.Usage;
            }

            // Flags given on the command line win over the file and the environment.
            if (result.GetValue(listen) is { Length: > 0 } endpoints)
            {
                options.Listen = [.. endpoints];
            }

            options.Socket = result.GetValue(socket) ?? options.Socket;
            options.Control = result.GetValue(CliContext.Control) ?? options.Control;
            options.ControlGroup = result.GetValue(controlGroup) ?? options.ControlGroup;
            options.DefaultSize = result.GetValue(size) ?? options.DefaultSize;
            options.Metrics = result.GetValue(metrics) ?? options.Metrics;
            options.Simulation = simulation.ApplyTo(result, options.Simulation);
            options.Tls.Directory = result.GetValue(tlsDir) ?? options.Tls.Directory;
            options.Tls.Certificate = result.GetValue(tlsCert) ?? options.Tls.Certificate;
            options.Tls.Key = result.GetValue(tlsKey) ?? options.Tls.Key;
            options.Tls.ClientCa = result.GetValue(tlsCa) ?? options.Tls.ClientCa;
            options.Tls.Mode = result.GetValue(tls) ?? options.Tls.Mode;
            options.KeyStore = result.GetValue(CliContext.KeyStore) ?? options.KeyStore;
            options.KeyFile = result.GetValue(CliContext.KeyFile) ?? options.KeyFile;
            options.KeyStoreTls.Ca = result.GetValue(CliContext.KeyStoreCa) ?? options.KeyStoreTls.Ca;
            options.KeyStoreTls.Cert = result.GetValue(CliContext.KeyStoreCert) ?? options.KeyStoreTls.Cert;
            options.KeyStoreTls.Key = result.GetValue(CliContext.KeyStoreKey) ?? options.KeyStoreTls.Key;
            if (result.GetResult(CliContext.DataDir) is { Implicit: false } || options.DataDir is null)
            {
                options.DataDir = result.GetValue(CliContext.DataDir);
            }

            if (result.GetValue(encrypted) && !result.GetValue(memory))
            {
                Console.Error.WriteLine("--encrypted goes with --memory: volumes are always encrypted, e.g. serve --memory --encrypted --size 1G.");
                return ExitCodes.Usage;
            }

            // The flags' ranges (the simulation's, say) are checked as they are parsed; --size depends on --memory.
            var sizeName = result.GetValue(size) is null ? "defaultSize" : "--size";
            if ((result.GetValue(memory) ? SettingRanges.MemoryExportSize.Problem(sizeName, options.DefaultSize) : SettingRanges.VolumeSizeProblem(sizeName, options.DefaultSize)) is { } sizeProblem)
            {
                Console.Error.WriteLine(sizeProblem);
                return ExitCodes.Usage;
            }

            if (result.GetValue(exportName) is { } named)
            {
                try
                {
                    options.DefaultExport = DataDirectory.CheckVolumeName(named);
                }
                catch (InvalidVolumeNameException e)
                {
                    Console.Error.WriteLine($"--export {named}: {e.Message}");
                    return ExitCodes.Usage;
                }
            }

            if (result.GetValue(memory))
            {
                var name = options.DefaultExport ?? "default";
                options.Exports = new() { [name] = new ExportSettings { Memory = true, Encrypted = result.GetValue(encrypted), Size = options.DefaultSize } };
                options.DefaultExport = name;
            }

            options.ManagementFlags = ManagementFlags(result, options);
            var captive = result.GetValue(run) is { } command ? new CaptiveCommand(command) : null;
            var extras = new ServeExtras(
                result.GetValue(pidFile) is { } pid ? new PidFile(pid) : null,
                result.GetValue(exitWithParent) ? ParentWatch.Parent : null,
                captive,
                result.GetValue(printUri));
            if (captive is not null && options.Listen.Count == 0 && options.Socket is null)
            {
                // As nbdkit's captive mode: no TCP port to collide with another daemon, a socket only the command knows.
                extras.PrivateSocketFolder = Directory.CreateTempSubdirectory("blocksim-run-").FullName;
                options.Socket = Path.Combine(extras.PrivateSocketFolder, "nbd.sock");
                extras.NoDefaultTcp = true;
            }

            try
            {
                return await RunAsync(options, result.GetValue(CliContext.Config), result.GetValue(verbose), result.GetValue(check) ? result : null, extras).ConfigureAwait(false);
            }
            finally
            {
                if (extras.PrivateSocketFolder is { } folder)
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        });
        return command;
    }

    /// <summary>
    /// What a management command needs to act on the data this daemon serves, for the hints it prints
    /// ("Create it first: blocksim volume create ... --config FILE"): the configuration file and the flags that
    /// overrode it, or the data directory.
    /// </summary>
    private static string ManagementFlags(ParseResult result, DaemonOptions options)
    {
        var flags = new List<string>();
        if (result.GetValue(CliContext.Config) is { } config)
        {
            flags.Add($"--config {config}");
        }

        if (flags.Count == 0 || result.GetResult(CliContext.DataDir) is { Implicit: false })
        {
            flags.Add($"--data-dir {options.DataDir}");
        }

        foreach (var (option, value) in new[] { (CliContext.KeyStore, result.GetValue(CliContext.KeyStore)), (CliContext.KeyFile, result.GetValue(CliContext.KeyFile)) })
        {
            if (value is not null)
            {
                flags.Add($"{option.Name} {value}");
            }
        }

        return string.Join(' ', flags);
    }

    /// <param name="check">With serve --check: the command line, to print the check's report; nothing is served.</param>
    /// <param name="extras">nbdkit's habits: a pid file, exiting with the parent, captive mode, printing the URI.</param>
    private static async Task<int> RunAsync(DaemonOptions options, string? configPath, bool verbose, ParseResult? check, ServeExtras extras)
    {
        if (SettingRanges.VolumeSizeProblem("--size", options.DefaultSize) is { } sizeProblem)
        {
            Console.Error.WriteLine(sizeProblem);
            return ExitCodes.Usage;
        }

        ByteSize.TryParse(options.DefaultSize, out var defaultSize);

        List<(string Where, NbdTlsMode Mode)> listeners;
        try
        {
            listeners = (options.Listen.Count == 0 && !extras.NoDefaultTcp ? [$"127.0.0.1:{DefaultPort}"] : options.Listen).Select(options.Tls.ParseListener).ToList();
        }
        catch (ConfigurationProblem e)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Usage;
        }

        if (!TryParseEndpoints(listeners.Select(l => l.Where), "--listen", out var endpoints)
            || !TryParseEndpoints(options.Metrics is null ? [] : [options.Metrics], "--metrics", out var metricsEndpoints))
        {
            return ExitCodes.Usage;
        }

        if (check is not null)
        {
            return ServeCheck.Run(check, options, options.Listen, configPath);
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "blocksim" });
        ConfigureLogging(builder.Logging, verbose);
        if (extras.Run is not null || extras.PrintUri)
        {
            // Standard output is the command's, or the URI alone for the script that reads it.
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }

        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        var startup = new StartupState();
        builder.Services.AddHostedService(services => new NbdService(
            startup.Server!, startup.Catalog!, startup.Endpoints, new SystemdNotifier(), services.GetRequiredService<ILoggerFactory>().CreateLogger("blocksim")));
        using var host = builder.Build();
        var loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("blocksim");
        if (configPath is not null)
        {
            DaemonLog.Configuration(logger, Path.GetFullPath(configPath));
        }

        var exit = Start(options, endpoints.Zip(listeners, (endpoint, l) => (endpoint, l.Mode)).ToList(), metricsEndpoints.FirstOrDefault(), defaultSize, loggerFactory, logger, startup);
        if (exit != ExitCodes.Ok)
        {
            await startup.CloseAsync().ConfigureAwait(false); // nothing it opened is left listening or locked
            return exit;
        }

        if (extras.PidFile is { } pidFile)
        {
            try
            {
                pidFile.Write(); // the listeners are bound: a client that waits for the file can connect
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"--pid-file {pidFile.Path}: {e.Message}");
                await startup.CloseAsync().ConfigureAwait(false);
                return ExitCodes.IOError;
            }
        }

        // Once the host runs, so its Ctrl+C / SIGTERM handling is in place: a user (or a script) who stops the
        // daemon as soon as it says how to attach gets a graceful stop, not the default signal death (130).
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(() =>
        {
            var uri = ServeUri.Of(startup.Server!, startup.SocketPath, startup.SocketTls, preferUnix: extras.Run is not null);
            if (extras.Run is { } captive)
            {
                captive.Start(uri!, lifetime.StopApplication);
            }
            else if (extras.PrintUri)
            {
                Console.WriteLine(uri?.Uri);
            }
            else
            {
                PrintAttachHelp(startup.Server!, startup.SocketPath, startup.SocketTls);
            }
        });
        using var parentWatch = extras.ExitWithParent is { } parent ? new ParentWatch(parent, lifetime.StopApplication) : null;
        await host.RunAsync().ConfigureAwait(false);
        await startup.Server!.DisposeAsync().ConfigureAwait(false);
        extras.PidFile?.Remove();
        if (extras.Run is { } run)
        {
            await run.StopAsync().ConfigureAwait(false); // stopped first (Ctrl+C): the command is asked to end too
            return run.ExitStatus ?? ExitCodes.Ok;
        }

        return ExitCodes.Ok;
    }

    /// <summary>Opens the exports and binds every listener; any failure is reported here, before the service starts.</summary>
    private static int Start(DaemonOptions options, List<(IPEndPoint Endpoint, NbdTlsMode Tls)> endpoints, IPEndPoint? metricsEndpoint, long defaultSize, ILoggerFactory loggerFactory, ILogger logger, StartupState startup)
    {
        try
        {
            DaemonLog.XtsTier(logger, XtsTiers.Default.ToString(), XtsTiers.DescribeCpu());
            var data = new DataDirectory(options.DataDir!, options.KeyStore, options.KeyFile, CliContext.KeyStoreTls(options.KeyStoreTls.Ca, options.KeyStoreTls.Cert, options.KeyStoreTls.Key));

            // The limits and the TLS files first: a bad certificate path stops start-up before a key store or a volume is made.
            var serverOptions = options.Limits.ToServerOptions();
            serverOptions.Tls = options.Tls.Load();
            startup.Catalog = ExportCatalog.Open(options, data, defaultSize, logger);
            var registry = new ExportRegistry(startup.Catalog.Exports, startup.Catalog.DefaultExport, startup.Catalog.AllowedClients);
            startup.Server = new NbdServer(registry, serverOptions, loggerFactory.CreateLogger("blocksim.nbd"));
            foreach (var (endpoint, tls) in endpoints)
            {
                startup.Server.ListenTcp(endpoint, tls);
            }

            var (socketPath, socketTls) = options.Tls.ParseListener(options.Socket ?? data.DefaultSocket);
            startup.SocketPath = socketPath;
            startup.SocketTls = socketTls;
            if (startup.SocketPath != "none")
            {
                try
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(startup.SocketPath))!);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new IOException($"Cannot make the directory of the Unix socket {startup.SocketPath}: {e.Message} Choose another path with --socket (\"socket\" in the configuration), or 'none'.", e);
                }

                startup.Server.ListenUnix(startup.SocketPath, socketTls);
            }

            if (serverOptions.Tls is { } credentials)
            {
                DaemonLog.TlsReady(logger, credentials.ServerSubject, credentials.VerifiesClients
                    ? (credentials.RequireClientCertificate ? "required and verified" : "verified when offered")
                    : "not asked for");
            }

            if (metricsEndpoint is not null)
            {
                ProcessMetrics.Register();
                var metrics = new MetricsEndpoint(metricsEndpoint, new PrometheusExporter());
                startup.Endpoints.Add(metrics);
                DaemonLog.MetricsListening(logger, metrics.Endpoint.ToString());
            }

            // By default in the data directory, which only a daemon serving volumes makes: a memory-only daemon
            // started elsewhere leaves no directory behind (and has no key store to administer).
            var control = options.Control ?? (Directory.Exists(data.Root) ? data.DefaultControlSocket : "none");
            if (control != "none")
            {
                try
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(control))!);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new IOException($"Cannot make the directory of the admin socket {control}: {e.Message} Choose another path with --control (\"control\" in the configuration), or 'none'.", e);
                }

                var access = new Admin.AdminSocketAccess(options.ControlGroup, data.Root);
                var catalog = startup.Catalog;
                var admin = Admin.AdminEndpoint.Start(control, access, () => catalog.KeyStore, catalog.Simulations, startup.Server, loggerFactory, logger);
                startup.Endpoints.Add(admin);
                DaemonLog.AdminListening(logger, control, admin.Access);
            }

            if (data.SharedKeyStore is { } fleet)
            {
                startup.Endpoints.Add(PublishVolumes(fleet, data, startup, logger));
            }

            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is ConfigurationProblem or ArgumentException or InvalidOperationException or PlatformNotSupportedException or KeyStoreException or VolumeKeyException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e.Message);
            return e switch
            {
                KeyStoreException { ErrorCode: KeyStoreErrors.AccessDenied or KeyStoreErrors.InsecureKeyFile or KeyStoreErrors.UnlockFailed } or VolumeKeyException => ExitCodes.Denied,
                KeyStoreException { ErrorCode: KeyStoreErrors.KeyFileMissing or KeyStoreErrors.NotFound } => ExitCodes.NotFound,
                KeyStoreException { ErrorCode: KeyStoreErrors.Validation } => ExitCodes.Usage,
                IOException or UnauthorizedAccessException or KeyStoreException => ExitCodes.IOError,
                _ => ExitCodes.Usage,
            };
        }
    }

    /// <summary>With a fleet's key store: says in etcd which volumes this daemon has open for writing, and where it listens (advisory; see <see cref="EtcdVolumeLeases"/>).</summary>
    private static EtcdVolumeLeases PublishVolumes(EtcdStoreAddress fleet, DataDirectory data, StartupState startup, ILogger logger)
    {
        var since = DateTimeOffset.UtcNow;
        var listeners = startup.Server!.Endpoints.Select(e => e.ToString()!).ToList();
        var exports = startup.Catalog!.Exports.OfType<VolumeExport>().ToList();
        var daemon = $"blocksim[{Environment.ProcessId}]";
        return EtcdVolumeLeases.Start(
            fleet,
            data.KeyStoreTls,
            () => [.. exports.Where(v => !v.IsReadOnly && v.HoldsVolume).Select(v => new VolumeLease(v.Header.VolumeId, v.Location, v.Name, Environment.MachineName, daemon, listeners, since))],
            message => DaemonLog.VolumeLeases(logger, message));
    }

    private static void ConfigureLogging(ILoggingBuilder logging, bool verbose)
    {
        // Under systemd, stdout is the journal: no timestamps of our own, syslog priority prefixes instead.
        if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)
        {
            logging.AddSystemdConsole();
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
        }

        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // the admin socket's Kestrel: a line per request otherwise
    }

    private static bool TryParseEndpoints(IEnumerable<string> texts, string option, out List<IPEndPoint> endpoints)
    {
        endpoints = [];
        foreach (var text in texts)
        {
            if (SettingRanges.Endpoint(option, text, out var problem) is not { } endpoint)
            {
                Console.Error.WriteLine(problem);
                return false;
            }

            endpoints.Add(endpoint);
        }

        return true;
    }

    private static void PrintAttachHelp(NbdServer server, string? socketPath, NbdTlsMode socketTls)
    {
        var name = server.Exports.DefaultName;
        Console.WriteLine();
        Console.WriteLine($"Serving exports: {string.Join(", ", server.Exports.All.Select(e => e.Name + (e.IsReadOnly ? " (read-only)" : "")))}. Attach '{name}' with:");
        if (server.Endpoints.OfType<IPEndPoint>().FirstOrDefault() is { } tcp)
        {
            var authority = ServeUri.Authority(tcp);
            var host = authority[..authority.LastIndexOf(':')].Trim('[', ']');
            if (server.TlsModeOf(tcp) == NbdTlsMode.Off)
            {
                Console.WriteLine($"  nbdinfo nbd://{authority}/{name}");
                Console.WriteLine($"  qemu-img info nbd://{authority}/{name}");
                Console.WriteLine($"  sudo nbd-client {host} {tcp.Port} /dev/nbd0 -N {name}");
            }
            else
            {
                // A client directory as 'blocksim tls client' writes it: ca-cert.pem, client-cert.pem, client-key.pem.
                Console.WriteLine($"  nbdinfo 'nbds://{authority}/{name}?tls-certificates=CLIENT-DIR'");
                Console.WriteLine($"  qemu-img info --object tls-creds-x509,id=tls0,dir=CLIENT-DIR,endpoint=client --image-opts driver=nbd,host={host},port={tcp.Port},export={name},tls-creds=tls0");
                Console.WriteLine($"  sudo nbd-client {host} {tcp.Port} /dev/nbd0 -N {name} -cacertfile CLIENT-DIR/ca-cert.pem -certfile CLIENT-DIR/client-cert.pem -keyfile CLIENT-DIR/client-key.pem -tlshostname localhost");
            }
        }

        if (socketPath is not null and not "none")
        {
            var scheme = socketTls == NbdTlsMode.Off ? "nbd+unix" : "nbds+unix";
            var credentials = socketTls == NbdTlsMode.Off ? "" : "&tls-certificates=CLIENT-DIR";
            Console.WriteLine($"  nbdinfo '{scheme}:///{name}?socket={Path.GetFullPath(socketPath)}{credentials}'");
        }

        Console.WriteLine("Press Ctrl+C to stop.");
        Console.WriteLine();
    }

    /// <summary>What serve does besides serving, from nbdkit's flags; see each class.</summary>
    /// <param name="ExitWithParent">With --exit-with-parent: the parent's process id when the command line was read.</param>
    private sealed record ServeExtras(PidFile? PidFile, int? ExitWithParent, CaptiveCommand? Run, bool PrintUri)
    {
        /// <summary>Captive mode's own socket folder, removed when the daemon stops.</summary>
        public string? PrivateSocketFolder { get; set; }

        /// <summary>No TCP listener unless one is configured (captive mode).</summary>
        public bool NoDefaultTcp { get; set; }
    }

    /// <summary>What start-up made, handed to the hosted service once the host is built.</summary>
    private sealed class StartupState
    {
        public ExportCatalog? Catalog { get; set; }

        public NbdServer? Server { get; set; }

        /// <summary>Metrics and the admin socket, as they were opened.</summary>
        public List<IAsyncDisposable> Endpoints { get; } = [];

        public string? SocketPath { get; set; }

        public NbdTlsMode SocketTls { get; set; }

        /// <summary>After a failed start-up: closes whatever was opened, listeners and volume locks included.</summary>
        public async Task CloseAsync()
        {
            foreach (var endpoint in Endpoints)
            {
                await endpoint.DisposeAsync().ConfigureAwait(false);
            }

            if (Server is not null)
            {
                await Server.DisposeAsync().ConfigureAwait(false);
            }

            Catalog?.Dispose();
        }
    }
}
