using System.Buffers;
using BenchmarkDotNet.Attributes;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>The wire format alone: parsing a request header, and writing simple and structured reply headers.</summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private const int Batch = 64;
    private readonly byte[] _requests = new byte[Batch * NbdRequest.Size];
    private readonly byte[] _replies = new byte[Batch * NbdReplies.StructuredHeaderSize];

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < Batch; i++)
        {
            new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, (ulong)i, (ulong)i * 4096, 4096).WriteTo(_requests.AsSpan(i * NbdRequest.Size));
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong ParseRequest()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_requests));
        ulong sum = 0;
        while (NbdRequest.TryRead(ref reader, out var request) == OperationStatus.Done)
        {
            sum += request.Offset;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void WriteSimpleReply()
    {
        for (var i = 0; i < Batch; i++)
        {
            NbdReplies.WriteSimple(_replies.AsSpan(i * NbdReplies.SimpleHeaderSize), NbdError.None, (ulong)i);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void WriteStructuredReadHeader()
    {
        for (var i = 0; i < Batch; i++)
        {
            NbdReplies.WriteChunkHeader(_replies.AsSpan(i * NbdReplies.StructuredHeaderSize), NbdReplyFlags.Done, NbdReplyType.OffsetData, (ulong)i, 8 + 4096);
        }
    }
}
