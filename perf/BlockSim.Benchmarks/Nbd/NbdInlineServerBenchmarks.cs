using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>
/// READ and WRITE requests through the whole server on its inline path: a loopback TCP socket, the
/// connection's own thread, an export that completes synchronously (memory, plain or encrypted with
/// XTS-AES-256 and 4 KiB sectors), 32 requests sent at once per invocation, with and without the metrics
/// exporter listening. The client is a blocking socket writing and reading raw bytes from buffers made once,
/// so the Allocated column is the server's own cost per request. Times include loopback TCP both ways.
/// </summary>
[MemoryDiagnoser]
public class NbdInlineServerBenchmarks : ServerBenchmarkCase
{
    private const int Batch = 32;
    private NbdServer _server = null!;
    private Socket _client = null!;
    private byte[] _readBatch = null!;
    private byte[] _writeBatch = null!;
    private byte[] _replies = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = CreateServer();
        var endpoint = _server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0));
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(endpoint);

        var payload = new byte[Size];
        new Random(1).NextBytes(payload);
        _readBatch = Requests(NbdCommand.Read, null);
        _writeBatch = Requests(NbdCommand.Write, payload);
        _replies = new byte[Batch * (NbdReplies.SimpleHeaderSize + Size)];

        Receive(18);
        _client.Send(BenchmarkHandshake.GoMessage("bench"));
        Receive(BenchmarkHandshake.GoReplyLength);
        Write(); // allocate the pages once, so reads and writes both touch memory that exists
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _server.StopAsync().Wait();
        StopMetrics();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Read()
    {
        _client.Send(_readBatch);
        CheckReplies(NbdReplies.SimpleHeaderSize + Size);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Write()
    {
        _client.Send(_writeBatch);
        CheckReplies(NbdReplies.SimpleHeaderSize);
    }

    private byte[] Requests(NbdCommand command, byte[]? payload)
    {
        var each = NbdRequest.Size + (payload?.Length ?? 0);
        var batch = new byte[Batch * each];
        for (var i = 0; i < Batch; i++)
        {
            new NbdRequest(NbdCommandFlags.None, command, (ulong)i, (ulong)(i * Size), (uint)Size).WriteTo(batch.AsSpan(i * each));
            payload?.CopyTo(batch.AsSpan((i * each) + NbdRequest.Size));
        }

        return batch;
    }

    /// <summary>Reads a batch of replies of a known size, checking each says success.</summary>
    private void CheckReplies(int replySize)
    {
        Receive(Batch * replySize);
        for (var i = 0; i < Batch; i++)
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(_replies.AsSpan((i * replySize) + 4)) != 0)
            {
                throw new InvalidOperationException("the server answered with an error");
            }
        }
    }

    private void Receive(int count)
    {
        for (var received = 0; received < count;)
        {
            var read = _client.Receive(_replies, received, count - received, SocketFlags.None);
            received += read > 0 ? read : throw new InvalidOperationException("the server closed the connection");
        }
    }
}
