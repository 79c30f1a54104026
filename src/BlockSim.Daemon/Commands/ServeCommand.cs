using System.CommandLine;
using System.Net;
using BlockSim.Crypto;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim serve</c>: with no arguments, an embedded default that needs no configuration. Until the
/// volume and key-store layers land, the default export is a sparse in-memory device (its data is lost
/// when the daemon stops, and it is not encrypted); the command says so when it starts.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 10809;
    public const string DefaultDataDirectory = "blocksim-data";

    public static Command Create()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = $"TCP address to listen on, ADDR:PORT (repeatable). Default: 127.0.0.1:{DefaultPort}.",
            AllowMultipleArgumentsPerToken = false,
        };
        var socket = new Option<string?>("--socket")
        {
            Description = $"Unix socket to listen on, or 'none'. Default: {DefaultDataDirectory}/nbd.sock.",
        };
        var size = new Option<string>("--size")
        {
            Description = "Size of the default export (bytes, or with K, M, G, T). Default: 1G.",
            DefaultValueFactory = _ => "1G",
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log each connection and option." };

        var command = new Command("serve", "Serve block devices over NBD.") { listen, socket, size, verbose };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(listen) ?? [],
            result.GetValue(socket),
            result.GetValue(size)!,
            result.GetValue(verbose),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] listen, string? socketPath, string sizeText, bool verbose, CancellationToken cancellationToken)
    {
        using var loggerFactory = LoggerFactory.Create(builder => builder
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            })
            .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information));
        var logger = loggerFactory.CreateLogger("blocksim");

        if (!Sizes.TryParse(sizeText, out var size) || size <= 0 || size % 512 != 0)
        {
            Console.Error.WriteLine($"--size {sizeText}: give a positive size in bytes (a multiple of 512), or with K, M, G or T, e.g. 1G.");
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

        var export = new MemoryExport("default", size, "in-memory export (not persistent, not encrypted)");
        logger.LogWarning("The default export is an in-memory device of {Size} bytes: its data is lost when blocksim stops, and it is not encrypted yet.", size);
        await using var server = new NbdServer(new ExportRegistry([export]), new NbdServerOptions(), loggerFactory.CreateLogger("blocksim.nbd"));
        try
        {
            foreach (var endpoint in endpoints)
            {
                server.ListenTcp(endpoint);
            }

            socketPath ??= Path.Combine(DefaultDataDirectory, "nbd.sock");
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
        return ExitCodes.Ok;
    }

    private static void PrintAttachHelp(NbdServer server, string socketPath)
    {
        var tcp = server.Endpoints.OfType<IPEndPoint>().First();
        var host = tcp.Address.Equals(IPAddress.Any) ? "127.0.0.1" : tcp.Address.ToString();
        var url = tcp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"nbd://[{host}]:{tcp.Port}/default" : $"nbd://{host}:{tcp.Port}/default";
        Console.WriteLine();
        Console.WriteLine("Serving export 'default'. Attach it with:");
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
