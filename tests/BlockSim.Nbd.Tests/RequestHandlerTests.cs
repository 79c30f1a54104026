using System.Buffers;
using System.Buffers.Binary;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Server.Handshake;
using BlockSim.Nbd.Server.Transmission;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;
using BlockSim.Storage.Simulation.Latency;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// The request handler alone, with no socket and no server: a session, a request, and the reply bytes it
/// writes. What the transmission tests check end to end over TCP, these pin down one request at a time.
/// </summary>
public sealed class RequestHandlerTests : IDisposable
{
    private const long ExportSize = 1 << 20;
    private const ulong Cookie = 0x0102030405060708;
    private const string StorageFailed = "I/O error on the server's storage (the server log has the reason)";

    private readonly PayloadMemory _memory = new(16L << 20);
    private readonly List<RequestContext> _contexts = [];

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, ExportSize - 4096, 4096, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, ExportSize - 4096, 4097, NbdError.Invalid)]          // past the end
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, ExportSize, 1, NbdError.NoSpace)]                   // past the end
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, ExportSize, 1, NbdError.NoSpace)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, ExportSize, 1, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, ulong.MaxValue, 2, NbdError.Invalid)]                // offset + length wraps
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, NbdLimits.MaxPayload + 1, NbdError.Overflow)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 0, NbdLimits.MaxPayload + 1, NbdError.Overflow)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 0, NbdLimits.MaxPayload + 1, NbdError.Invalid)]      // not a payload: only the end counts
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, ExportSize * 2, 7, NbdError.None)]                  // offset and length mean nothing
    [InlineData(NbdCommand.Resize, NbdCommandFlags.None, 0, 0, NbdError.Invalid)]                           // not advertised
    [InlineData((NbdCommand)99, NbdCommandFlags.None, 0, 0, NbdError.Invalid)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.NoHole, 0, 512, NbdError.Invalid)]     // a flag WRITE does not take
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.NoHole | NbdCommandFlags.FastZero | NbdCommandFlags.Fua, 0, 512, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.DontFragment, 0, 512, NbdError.Invalid)] // DF needs structured replies
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 512, NbdError.Invalid)]                    // no context selected
    public void Validate_follows_the_protocol(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError expected) =>
        Assert.Equal(expected, Handler().Validate(new NbdRequest(flags, command, Cookie, offset, length)));

    [Fact]
    public void Validate_refuses_what_the_device_cannot_do_as_it_was_not_advertised()
    {
        // A spinning disk has no TRIM and zeroes only by writing: both were left out of the flags.
        using var hdd = new BlockDeviceExport("hdd", new HddDevice(new MemoryBlockDevice(ExportSize), HddGeometry.Default, seed: 1));
        var handler = Handler(export: hdd);
        Assert.Equal(NbdError.Invalid, handler.Validate(new NbdRequest(NbdCommandFlags.None, NbdCommand.Trim, Cookie, 0, 512)));
        Assert.Equal(NbdError.Invalid, handler.Validate(new NbdRequest(NbdCommandFlags.FastZero, NbdCommand.WriteZeroes, Cookie, 0, 512)));
        Assert.Equal(NbdError.None, handler.Validate(new NbdRequest(NbdCommandFlags.NoHole, NbdCommand.WriteZeroes, Cookie, 0, 512)));
    }

    [Fact]
    public async Task A_storage_failure_tells_the_client_EIO_and_keeps_the_servers_paths_in_the_log()
    {
        var handler = Handler(export: new ReadFailingExport(new IOException("Input/output error : '/var/lib/blocksim/volumes/secret.vol'")));
        var read = Context(NbdCommand.Read, 0, 512);
        await handler.ExecuteAsync(read, CancellationToken.None);
        Assert.Equal(NbdError.IO, read.Error);
        Assert.DoesNotContain("/var/lib", read.ErrorMessage);
        Assert.Contains("server log", read.ErrorMessage);

        // A fault the simulator injected is meant to be seen: its message reaches the client.
        var simulated = Handler(export: new ReadFailingExport(new SimulatedIOException("simulated read error at offset 0 (fault injection)")));
        var again = Context(NbdCommand.Read, 0, 512);
        await simulated.ExecuteAsync(again, CancellationToken.None);
        Assert.Equal("simulated read error at offset 0 (fault injection)", again.ErrorMessage);
    }

    [Fact]
    public void Validate_allows_what_the_session_negotiated()
    {
        var handler = Handler(structured: true, allocation: true);
        Assert.Equal(NbdError.None, handler.Validate(new NbdRequest(NbdCommandFlags.DontFragment, NbdCommand.Read, Cookie, 0, 512)));
        Assert.Equal(NbdError.None, handler.Validate(new NbdRequest(NbdCommandFlags.ReqOne, NbdCommand.BlockStatus, Cookie, 0, 512)));
        Assert.Equal(NbdError.Invalid, handler.Validate(new NbdRequest(NbdCommandFlags.None, NbdCommand.BlockStatus, Cookie, 0, 0)));
    }

    [Theory]
    [InlineData(NbdCommand.Write)]
    [InlineData(NbdCommand.Trim)]
    [InlineData(NbdCommand.WriteZeroes)]
    public void Validate_refuses_writes_to_a_read_only_export(NbdCommand command) =>
        Assert.Equal(NbdError.NotPermitted, Handler(export: new MemoryExport("ro", ExportSize, readOnly: true)).Validate(new NbdRequest(NbdCommandFlags.None, command, Cookie, 0, 512)));

    [Fact]
    public async Task A_write_then_a_read_round_trip_through_the_export_with_simple_replies()
    {
        var export = new MemoryExport("mem", ExportSize);
        var handler = Handler(export: export);
        var data = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();

        var write = Context(NbdCommand.Write, 8192, 4096);
        write.RentBuffer(_memory, 4096);
        data.CopyTo(write.Buffer!, 0);
        await handler.ExecuteAsync(write, CancellationToken.None);
        Assert.Equal(Hex(Simple(NbdError.None)), Hex(Reply(handler, write)));

        var read = Context(NbdCommand.Read, 8192, 4096);
        await handler.ExecuteAsync(read, CancellationToken.None);
        Assert.Equal(Hex([.. Simple(NbdError.None), .. data]), Hex(Reply(handler, read)));
    }

    [Fact]
    public async Task A_structured_read_is_one_offset_data_chunk()
    {
        var handler = Handler(structured: true);
        var read = Context(NbdCommand.Read, 0x200, 16);
        await handler.ExecuteAsync(read, CancellationToken.None);
        Assert.Equal(
            "668E33EF" + "0001" + "0001" + "0102030405060708" + "00000018" + "0000000000000200" + new string('0', 32),
            Hex(Reply(handler, read)));
    }

    [Fact]
    public async Task An_empty_structured_read_is_a_bare_none_chunk()
    {
        var handler = Handler(structured: true);
        var read = Context(NbdCommand.Read, 0, 0);
        await handler.ExecuteAsync(read, CancellationToken.None);
        Assert.Equal("668E33EF" + "0001" + "0000" + "0102030405060708" + "00000000", Hex(Reply(handler, read)));
    }

    [Fact]
    public void A_refused_structured_read_is_an_error_chunk_with_a_message()
    {
        var handler = Handler(structured: true);
        var read = Context(NbdCommand.Read, ExportSize, 512);
        read.Error = handler.Validate(read.Request);
        var message = "invalid request"u8.ToArray();
        Assert.Equal(
            "668E33EF" + "0001" + "8001" + "0102030405060708" + (6 + message.Length).ToString("X8") + "00000016" + message.Length.ToString("X4") + Hex(message),
            Hex(Reply(handler, read)));
    }

    [Fact]
    public void A_refused_write_is_a_simple_error_even_with_structured_replies()
    {
        var handler = Handler(structured: true);
        var write = Context(NbdCommand.Write, ExportSize, 512);
        write.Error = handler.Validate(write.Request);
        Assert.Equal(Hex(Simple(NbdError.NoSpace)), Hex(Reply(handler, write)));
    }

    [Fact]
    public async Task Block_status_answers_base_allocation_by_its_context_id()
    {
        var export = new MemoryExport("mem", ExportSize);
        var handler = Handler(export: export, structured: true, allocation: true);
        var write = Context(NbdCommand.Write, 0, 4096);
        write.RentBuffer(_memory, 4096);
        write.Buffer.AsSpan(0, 4096).Fill(1);
        await handler.ExecuteAsync(write, CancellationToken.None);

        var status = Context(NbdCommand.BlockStatus, 0, 8192, NbdCommandFlags.ReqOne);
        await handler.ExecuteAsync(status, CancellationToken.None);
        var reply = Reply(handler, status);
        Assert.Equal("668E33EF" + "0001" + "0005" + "0102030405060708" + "0000000C", Hex(reply.AsSpan(0, 20)));
        Assert.Equal(NbdSession.AllocationContextId, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(20)));
        Assert.Equal(1, status.ExtentCount); // REQ_ONE: exactly one extent
        Assert.Equal(status.Extents[0].Length, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(24)));
        Assert.Equal((uint)status.Extents[0].Flags, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(28)));
    }

    [Theory]
    [InlineData(FaultRule.ENOSPC, NbdError.NoSpace)]
    [InlineData(FaultRule.EPERM, NbdError.NotPermitted)]
    [InlineData(FaultRule.ESHUTDOWN, NbdError.Shutdown)]
    [InlineData(FaultRule.EIO, NbdError.IO)]
    [InlineData(61, NbdError.IO)] // any other errno
    public async Task A_simulated_fault_answers_the_errno_its_rule_chose(int errno, NbdError expected)
    {
        var handler = Handler(export: new FailingExport(new InjectedFaultException(errno, "simulated fault")));
        var write = Context(NbdCommand.Write, 0, 512);
        write.RentBuffer(_memory, 512);
        await handler.ExecuteAsync(write, CancellationToken.None);
        Assert.Equal(expected, write.Error);
        Assert.Equal("simulated fault", write.ErrorMessage);
        Assert.Equal(Hex(Simple(expected)), Hex(Reply(handler, write)));
    }

    [Fact]
    public async Task Failures_become_errors_never_exceptions()
    {
        var cases = new (Exception Thrown, NbdCommand Command, NbdError Expected, string Message)[]
        {
            (new NbdException(NbdError.NotSupported, "too slow to zero"), NbdCommand.WriteZeroes, NbdError.NotSupported, "too slow to zero"),
            (new IOException("disk full") { HResult = 28 }, NbdCommand.Write, NbdError.NoSpace, "no space left on the server's storage"),
            (new IOException("disk full") { HResult = 28 }, NbdCommand.Read, NbdError.IO, StorageFailed), // only a write can run out of space
            (new IOException("bad sector"), NbdCommand.Read, NbdError.IO, StorageFailed), // the storage's words stay in the log
            (new OperationCanceledException(), NbdCommand.Flush, NbdError.Shutdown, "the server is shutting down"),
            (new InvalidOperationException("a bug"), NbdCommand.Trim, NbdError.IO, "internal error"), // no detail for the client
        };
        foreach (var (thrown, command, expected, message) in cases)
        {
            var handler = Handler(export: new FailingExport(thrown));
            var context = Context(command, 0, 512);
            if (command == NbdCommand.Write)
            {
                context.RentBuffer(_memory, 512);
            }

            await handler.ExecuteAsync(context, CancellationToken.None);
            Assert.Equal((expected, message), (context.Error, context.ErrorMessage));
        }
    }

    [Fact]
    public async Task The_cancellation_token_reaches_the_export()
    {
        var export = new FailingExport(null);
        var handler = Handler(export: export);
        using var stop = new CancellationTokenSource();
        await handler.ExecuteAsync(Context(NbdCommand.Flush, 0, 0), stop.Token);
        Assert.Equal(stop.Token, export.LastToken);
    }

    public void Dispose()
    {
        foreach (var context in _contexts)
        {
            context.Reset(_memory);
        }

        Assert.Equal(0, _memory.RentedBuffers); // every buffer a request rented goes back with it
    }

    private NbdRequestHandler Handler(INbdExport? export = null, bool structured = false, bool allocation = false) =>
        new(new NbdSession(export ?? new MemoryExport("mem", ExportSize), new NbdClientIdentity(NbdClientIdentity.Anonymous, "test", Tls: false, 1), structured, NoZeroes: true, allocation), _memory, NullLogger.Instance);

    private RequestContext Context(NbdCommand command, ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None)
    {
        var context = new RequestContext { Request = new NbdRequest(flags, command, Cookie, offset, length) };
        _contexts.Add(context);
        return context;
    }

    private static byte[] Reply(NbdRequestHandler handler, RequestContext context)
    {
        var output = new ArrayBufferWriter<byte>();
        handler.WriteReply(output, context);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Simple(NbdError error)
    {
        var bytes = new byte[NbdReplies.SimpleHeaderSize];
        NbdReplies.WriteSimple(bytes, error, Cookie);
        return bytes;
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>Throws what it is given from every operation (nothing when null), and remembers the token it was handed.</summary>
    private sealed class FailingExport(Exception? failure) : DelegatingExport(new MemoryExport("failing", ExportSize))
    {
        public CancellationToken LastToken { get; private set; }

        public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) => Fail(cancellationToken);

        public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken) => Fail(cancellationToken);

        public override ValueTask FlushAsync(CancellationToken cancellationToken) => Fail(cancellationToken);

        public override ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken) => Fail(cancellationToken);

        public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken) => Fail(cancellationToken);

        private ValueTask Fail(CancellationToken cancellationToken)
        {
            LastToken = cancellationToken;
            return failure is null ? ValueTask.CompletedTask : ValueTask.FromException(failure);
        }
    }

    /// <summary>Every read fails with the exception given.</summary>
    private sealed class ReadFailingExport(IOException failure) : DelegatingExport(new MemoryExport("failing", ExportSize))
    {
        public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) => ValueTask.FromException(failure);
    }
}
