using System.Buffers.Binary;
using System.IO.Pipelines;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>Defects the coverage-guided fuzzing (fuzz/) found, each kept as a test; the inputs are in fuzz/corpus.</summary>
public class FuzzFindingTests
{
    [Theory]
    [InlineData(0UL)] // a WRITE the export takes
    [InlineData(1UL << 20)] // a WRITE past the end (ENOSPC), whose payload is skipped
    public async Task A_write_whose_payload_never_arrives_whole_is_not_answered(ulong offset)
    {
        // nbd-transmission finding-write-payload-cut-short: the client's stream ended inside a WRITE's payload,
        // and the server still sent a reply, a success for a write it never ran.
        await using var server = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1L << 20)]));
        var toServer = new Pipe();
        var toClient = new Pipe();
        var serving = server.ServeAsync(new DuplexPipe(toServer.Reader, toClient.Writer));

        await toServer.Writer.WriteAsync(Handshake());
        var request = new byte[NbdRequest.Size + 100];
        new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, 7, offset, 4096).WriteTo(request);
        await toServer.Writer.WriteAsync(request); // 100 of its 4,096 bytes
        await toServer.Writer.CompleteAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));

        var output = await ReadAllAsync(toClient.Reader);
        var afterHandshake = AfterGoAck(output);
        Assert.Equal(0, output.Length - afterHandshake); // no reply of any kind
        Assert.Equal(0, server.RentedBuffers);
    }

    private static byte[] Handshake()
    {
        var bytes = new List<byte> { 0, 0, 0, 3 };
        var name = "mem"u8.ToArray();
        var option = new byte[16 + 4 + name.Length + 2];
        BinaryPrimitives.WriteUInt64BigEndian(option, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(8), (uint)NbdOption.Go);
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(12), (uint)(option.Length - 16));
        BinaryPrimitives.WriteUInt32BigEndian(option.AsSpan(16), (uint)name.Length);
        name.CopyTo(option.AsSpan(20));
        bytes.AddRange(option);
        return [.. bytes];
    }

    private static int AfterGoAck(byte[] output)
    {
        var at = 18;
        while (true)
        {
            var type = BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 12));
            var option = BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 8));
            at += 20 + (int)BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 16));
            if (option == (uint)NbdOption.Go && type == (uint)NbdOptionReplyType.Ack)
            {
                return at;
            }
        }
    }

    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        var bytes = new MemoryStream();
        while (true)
        {
            var read = await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            foreach (var segment in read.Buffer)
            {
                bytes.Write(segment.Span);
            }

            reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                return bytes.ToArray();
            }
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
