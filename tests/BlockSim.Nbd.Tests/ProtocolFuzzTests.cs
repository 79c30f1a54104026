using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using CsCheck;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// Property-based protocol fuzzing (CsCheck): generated option streams and request streams, from random
/// bytes to nearly valid messages, each fed to a server connection whose input then ends. No input may
/// crash the server (an unexpected exception is logged as event 1005 or 2003), leave a connection running
/// after its input ended, or disturb other connections: all samples share one server, many at once, and a
/// normal client must still work at the end. Iterations: BLOCKSIM_FUZZ_ITERATIONS (default 2,000 per target;
/// the longer documented run in RELIABILITY.md uses more). A failure prints CsCheck's seed and the shrunk input.
/// </summary>
public sealed class ProtocolFuzzTests : IAsyncDisposable
{
    private static readonly long s_iterations = long.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_FUZZ_ITERATIONS"), out var n) ? n : 2000;
    private const long ExportSize = 64L << 20;
    private readonly CrashLog _log = new();
    private readonly NbdServer _server;
    private readonly int _port;

    public ProtocolFuzzTests()
    {
        _server = new NbdServer(new ExportRegistry([new MemoryExport("mem", ExportSize)]), new NbdServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(5) }, _log);
        _port = _server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
    }

    [Fact]
    public async Task No_option_stream_crashes_or_hangs_the_server()
    {
        var option = Gen.Frequency(
            (3, Gen.Select(Gen.UInt[0, 12], Gen.Byte.Array[0, 64], (code, data) => Option(code, data))),
            (2, Gen.Select(Gen.UInt[1, 12], Gen.String[Gen.Char.AlphaNumeric, 0, 8], Gen.UShort.Array[0, 4], (code, name, infos) => Option(code, NamePayload(name, infos)))),
            (1, Gen.Select(Gen.UInt, Gen.UInt, Gen.Byte.Array[0, 32], (code, length, data) => RawOption(code, length, data))),
            (1, Gen.Byte.Array[0, 40]));
        var stream = Gen.Select(Gen.UInt[0, 3], option.List[0, 8], Gen.Bool, (flags, options, cut) => Handshake(flags, options, cut));
        await RunAsync(stream, "option streams");
    }

    [Fact]
    public async Task No_request_stream_crashes_or_hangs_the_server()
    {
        var request = Gen.Frequency(
            (6, Gen.Select(Gen.UShort[0, 9], Gen.UShort[0, 64], Offsets(), Lengths(), Gen.Int[0, 600], (command, flags, offset, length, payload) => Request(NbdMagic.Request, command, flags, offset, length, payload))),
            (1, Gen.Select(Gen.UInt, Gen.UShort, Gen.UShort, Gen.ULong, Gen.UInt, (magic, command, flags, offset, length) => Request(magic, command, flags, offset, length, 0))),
            (1, Gen.Byte.Array[1, 40]));
        var stream = Gen.Select(Gen.Bool, request.List[0, 12], (structured, requests) => Attached(structured, requests));
        await RunAsync(stream, "request streams");
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task RunAsync(Gen<byte[]> inputs, string what)
    {
        inputs.Sample(input => ServeOne(input).GetAwaiter().GetResult(), iter: s_iterations, threads: 4);
        Assert.Empty(_log.Crashes);

        // Other connections carried on: a normal client works, and no fuzzed connection is still open.
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", _port, new NbdClientOptions { ExportName = "mem" }))
        {
            await client.WriteAsync(0, new byte[4096]);
            await client.ReadAsync(0, new byte[4096]);
        }

        for (var i = 0; i < 100 && _server.ConnectionCount > 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, _server.ConnectionCount);
        Console.WriteLine($"fuzz: {s_iterations} {what}, 0 crashes, 0 hangs");
    }

    /// <summary>One connection: all of the input, then end of stream; the server must finish it promptly.</summary>
    private async Task<bool> ServeOne(byte[] input)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var serving = _server.ServeAsync(new DuplexPipe(toServer.Reader, toClient.Writer));
        var draining = Task.Run(async () =>
        {
            while (true)
            {
                var read = await toClient.Reader.ReadAsync();
                toClient.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        });
        await toServer.Writer.WriteAsync(input);
        await toServer.Writer.CompleteAsync();
        var finished = await Task.WhenAny(serving, Task.Delay(TimeSpan.FromSeconds(10))) == serving;
        Assert.True(finished, $"the connection still runs 10 s after its input ended: {Convert.ToHexString(input)}");
        await draining.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(_log.Crashes.IsEmpty, $"the server crashed on {Convert.ToHexString(input)}: {string.Join("; ", _log.Crashes)}");
        return true;
    }

    private static Gen<ulong> Offsets() => Gen.Frequency((4, Gen.ULong[0, ExportSize]), (1, Gen.ULong), (1, Gen.Const((ulong)ExportSize - 1)));

    private static Gen<uint> Lengths() => Gen.Frequency((4, Gen.UInt[0, 70_000]), (1, Gen.UInt), (1, Gen.Const(0u)), (1, Gen.Const((uint)NbdLimits.MaxPayload + 1)));

    private static byte[] Handshake(uint clientFlags, List<byte[]> options, bool cut)
    {
        var bytes = new List<byte>();
        var flags = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(flags, clientFlags);
        bytes.AddRange(flags);
        foreach (var option in options)
        {
            bytes.AddRange(option);
        }

        return cut && bytes.Count > 1 ? bytes.Take(bytes.Count / 2).ToArray() : bytes.ToArray();
    }

    private static byte[] Option(uint code, byte[] data) => RawOption(code, (uint)data.Length, data);

    private static byte[] RawOption(uint code, uint length, byte[] data)
    {
        var bytes = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), code);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), length);
        data.CopyTo(bytes.AsSpan(16));
        return bytes;
    }

    /// <summary>An INFO/GO-shaped payload: name length, name, info request count, requests.</summary>
    private static byte[] NamePayload(string name, ushort[] infos)
    {
        var bytes = new byte[4 + name.Length + 2 + 2 * infos.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)name.Length);
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(bytes.AsSpan(4));
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + name.Length), (ushort)infos.Length);
        for (var i = 0; i < infos.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6 + name.Length + 2 * i), infos[i]);
        }

        return bytes;
    }

    /// <summary>A valid handshake that attaches "mem" (optionally with structured replies), then the requests.</summary>
    private static byte[] Attached(bool structured, List<byte[]> requests)
    {
        var options = new List<byte[]>();
        if (structured)
        {
            options.Add(Option((uint)NbdOption.StructuredReply, []));
        }

        options.Add(Option((uint)NbdOption.Go, NamePayload("mem", [])));
        return [.. Handshake((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes), options, cut: false), .. requests.SelectMany(r => r)];
    }

    private static byte[] Request(uint magic, ushort command, ushort flags, ulong offset, uint length, int payload)
    {
        var bytes = new byte[NbdRequest.Size + (command == (ushort)NbdCommand.Write ? Math.Min(payload, (int)Math.Min(length, 600u)) : 0)];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), command);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), 42);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(24), length);
        return bytes;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Collects the log events that mean an unexpected exception reached the connection or a request.</summary>
    private sealed class CrashLog : ILogger
    {
        public System.Collections.Concurrent.ConcurrentBag<string> Crashes { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id is 1005 or 2003)
            {
                Crashes.Add($"{formatter(state, exception)}: {exception}");
            }
        }
    }
}
