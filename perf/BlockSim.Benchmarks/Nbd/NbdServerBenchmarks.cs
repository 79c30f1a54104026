using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>
/// READ and WRITE requests through the whole server (parse, dispatch to the thread pool, export, reply)
/// over an in-memory duplex pipe (its buffers recycled, as a socket's are: <see cref="RecyclingMemoryPool"/>), 32 in flight per invocation, on a memory export plain or encrypted
/// (XTS-AES-256, 4 KiB sectors, the process's tier), with and without the metrics exporter listening. The client side is raw bytes and
/// allocation-free, so the Allocated column is the server's own cost per request.
/// </summary>
[MemoryDiagnoser]
public class NbdServerBenchmarks : ServerBenchmarkCase
{
    private const int Batch = 32;
    private static readonly PipeOptions s_transport = new(new RecyclingMemoryPool(), pauseWriterThreshold: 256L << 20, resumeWriterThreshold: 128L << 20, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false);
    private readonly Pipe _toServer = new(s_transport);
    private readonly Pipe _toClient = new(s_transport);
    private NbdServer _server = null!;
    private Task _serving = null!;
    private byte[] _payload = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = CreateServer();
        _serving = _server.ServeAsync(new DuplexPipe(_toServer.Reader, _toClient.Writer));
        _payload = new byte[Size];
        new Random(1).NextBytes(_payload);
        Handshake();
        Write(); // allocate the pages once, so reads and writes both touch memory that exists
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _toServer.Writer.Complete();
        _serving.Wait();
        _server.StopAsync().Wait();
        StopMetrics();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Read()
    {
        for (var i = 0; i < Batch; i++)
        {
            SendRequest(NbdCommand.Read, (ulong)i, (ulong)(i * Size), (uint)Size, withPayload: false);
        }

        Flush();
        Receive(Batch, NbdReplies.SimpleHeaderSize + Size);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Write()
    {
        for (var i = 0; i < Batch; i++)
        {
            SendRequest(NbdCommand.Write, (ulong)i, (ulong)(i * Size), (uint)Size, withPayload: true);
            Flush(); // as a socket would: the server reads each request as it arrives
        }

        Receive(Batch, NbdReplies.SimpleHeaderSize);
    }

    private void SendRequest(NbdCommand command, ulong cookie, ulong offset, uint length, bool withPayload)
    {
        var writer = _toServer.Writer;
        new NbdRequest(NbdCommandFlags.None, command, cookie, offset, length).WriteTo(writer.GetSpan(NbdRequest.Size));
        writer.Advance(NbdRequest.Size);
        if (withPayload)
        {
            writer.Write(_payload);
        }
    }

    private void Flush()
    {
        var flush = _toServer.Writer.FlushAsync();
        var spin = default(SpinWait);
        while (!flush.IsCompleted)
        {
            spin.SpinOnce();
        }

        flush.GetAwaiter().GetResult();
    }

    /// <summary>Reads <paramref name="count"/> replies of a known size, checking each says success.</summary>
    private void Receive(int count, int replySize)
    {
        var reader = _toClient.Reader;
        var spin = default(SpinWait);
        Span<byte> header = stackalloc byte[NbdReplies.SimpleHeaderSize];
        while (count > 0)
        {
            if (!reader.TryRead(out var result))
            {
                spin.SpinOnce();
                continue;
            }

            var buffer = result.Buffer;
            var whole = (int)Math.Min(count, buffer.Length / replySize);
            for (var i = 0; i < whole; i++)
            {
                buffer.Slice((long)i * replySize, NbdReplies.SimpleHeaderSize).CopyTo(header);
                if (BinaryPrimitives.ReadUInt32BigEndian(header[4..]) != 0)
                {
                    throw new InvalidOperationException("the server answered with an error");
                }
            }

            count -= whole;
            reader.AdvanceTo(buffer.GetPosition((long)whole * replySize), buffer.End);
        }
    }

    private void Handshake()
    {
        ReadExactly(18);
        _toServer.Writer.Write(BenchmarkHandshake.GoMessage("bench"));
        Flush();
        ReadExactly(BenchmarkHandshake.GoReplyLength);
    }

    private void ReadExactly(int count)
    {
        var reader = _toClient.Reader;
        while (true)
        {
            var result = reader.ReadAsync().AsTask().Result;
            if (result.Buffer.Length >= count)
            {
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
