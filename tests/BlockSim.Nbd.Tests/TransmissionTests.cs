using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Tests;

public class TransmissionTests : TransmissionPathTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Written_data_reads_back_with_simple_and_structured_replies(bool structured)
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync(structured: structured);
        Assert.Equal(structured, client.StructuredReplies);
        var data = Pattern(300_000, seed: 1);
        await client.WriteAsync(12345, data);
        var back = new byte[data.Length];
        await client.ReadAsync(12345, back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_32_MiB_write_and_read_are_accepted()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        var data = Pattern(NbdLimits.MaxPayload, seed: 2);
        await client.WriteAsync(0, data, NbdCommandFlags.Fua);
        var back = new byte[data.Length];
        await client.ReadAsync(0, back);
        Assert.True(data.AsSpan().SequenceEqual(back));
    }

    [Fact]
    public async Task Write_zeroes_trim_and_cache_do_what_they_say()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        await client.WriteAsync(0, Pattern(1 << 20, seed: 3));
        await client.WriteZeroesAsync(4096, 8192);
        await client.WriteZeroesAsync(65536, 65536, NbdCommandFlags.NoHole | NbdCommandFlags.FastZero);
        await client.TrimAsync(262144, 131072);
        await client.CacheAsync(0, 4096);
        await client.FlushAsync();
        var back = new byte[1 << 20];
        await client.ReadAsync(0, back);
        Assert.All(back.AsSpan(4096, 8192).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(65536, 65536).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(262144, 131072).ToArray(), b => Assert.Equal(0, b));
        Assert.NotEqual(0, back[0]);
    }

    [Fact]
    public async Task Block_status_reports_holes_and_data_and_req_one_gives_one_extent()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        Assert.True(client.AllocationContext);
        await client.WriteAsync(1 << 20, Pattern(1 << 16, seed: 4));
        var extents = await client.BlockStatusAsync(0, 4 << 20);
        Assert.Equal(new NbdExtent(1 << 20, NbdAllocationFlags.Hole | NbdAllocationFlags.Zero), extents[0]);
        Assert.Equal(new NbdExtent(1 << 16, NbdAllocationFlags.Data), extents[1]);
        Assert.Equal((uint)(4 << 20), (uint)extents.Sum(e => e.Length));
        var one = await client.BlockStatusAsync(0, 4 << 20, NbdCommandFlags.ReqOne);
        Assert.Single(one);
    }

    [Fact]
    public async Task Block_status_without_a_selected_context_is_einval()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync(allocation: false);
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.BlockStatusAsync(0, 4096));
        Assert.Equal(NbdError.Invalid, e.Error);
    }

    [Theory]
    [InlineData(NbdCommand.Read, TestServer.MemorySize - 512, 1024u, NbdError.Invalid)]
    [InlineData(NbdCommand.Trim, TestServer.MemorySize, 1u, NbdError.Invalid)]
    [InlineData(NbdCommand.Cache, TestServer.MemorySize, 4096u, NbdError.Invalid)]
    [InlineData(NbdCommand.WriteZeroes, TestServer.MemorySize - 512, 1024u, NbdError.NoSpace)]
    [InlineData(NbdCommand.Read, 0L, NbdLimits.MaxPayload + 1u, NbdError.Overflow)]
    [InlineData((NbdCommand)99, 0L, 0u, NbdError.Invalid)]
    [InlineData(NbdCommand.Resize, 0L, 0u, NbdError.Invalid)]
    public async Task Bad_requests_get_the_protocol_errno(NbdCommand command, long offset, uint length, NbdError expected)
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync(structured: false);
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.SendRawAsync(command, 0, (ulong)offset, length));
        Assert.Equal(expected, e.Error);
        await client.FlushAsync(); // the connection carries on
    }

    [Fact]
    public async Task A_write_past_the_end_is_enospc_and_its_payload_is_skipped()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync(TestServer.MemorySize - 512, new byte[4096]));
        Assert.Equal(NbdError.NoSpace, e.Error);
        await client.WriteAsync(0, new byte[] { 1, 2, 3 });
        var back = new byte[3];
        await client.ReadAsync(0, back);
        Assert.Equal(new byte[] { 1, 2, 3 }, back);
    }

    [Theory]
    [InlineData(NbdCommand.Write, NbdCommandFlags.NoHole)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.ReqOne)]
    [InlineData(NbdCommand.Flush, (NbdCommandFlags)(1 << 9))]
    public async Task Undefined_flags_are_einval(NbdCommand command, NbdCommandFlags flags)
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync(structured: false);
        var payload = command == NbdCommand.Write ? new byte[512] : default(ReadOnlyMemory<byte>);
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.SendRawAsync(command, flags, 0, command == NbdCommand.Flush ? 0u : 512u, payload));
        Assert.Equal(NbdError.Invalid, e.Error);
        await client.FlushAsync();
    }

    [Fact]
    public async Task Df_is_accepted_only_with_structured_replies()
    {
        await using var server = NewServer();
        await using (var structured = await server.ConnectAsync())
        {
            Assert.True(structured.Flags.HasFlag(NbdTransmissionFlags.SendDf));
            await structured.ReadAsync(0, new byte[4096], NbdCommandFlags.DontFragment);
        }

        await using var simple = await server.ConnectAsync(structured: false);
        Assert.False(simple.Flags.HasFlag(NbdTransmissionFlags.SendDf));
        var e = await Assert.ThrowsAsync<NbdClientException>(() => simple.ReadAsync(0, new byte[4096], NbdCommandFlags.DontFragment));
        Assert.Equal(NbdError.Invalid, e.Error);
    }

    [Fact]
    public async Task A_read_only_export_refuses_writes_with_eperm()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync("ro");
        Assert.True(client.Flags.HasFlag(NbdTransmissionFlags.ReadOnly));
        foreach (var attempt in new Func<Task>[]
        {
            () => client.WriteAsync(0, new byte[512]),
            () => client.TrimAsync(0, 512),
            () => client.WriteZeroesAsync(0, 512),
        })
        {
            var e = await Assert.ThrowsAsync<NbdClientException>(attempt);
            Assert.Equal(NbdError.NotPermitted, e.Error);
        }

        await client.ReadAsync(0, new byte[512]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Export_failures_reach_the_client_as_eio(bool structured)
    {
        await using var server = NewServer(null, new FailingExport());
        await using var client = await server.ConnectAsync("failing", structured);
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.ReadAsync(0, new byte[512]));
        Assert.Equal(NbdError.IO, e.Error);
        if (structured)
        {
            // The error chunk carries a message, but not the storage's own words, which may name server files.
            Assert.Contains("I/O error on the server's storage", e.Message);
            Assert.DoesNotContain("disk on fire", e.Message);
        }

        var w = await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync(0, new byte[512]));
        Assert.Equal(NbdError.IO, w.Error);
    }

    [Fact]
    public async Task A_zero_length_read_succeeds_with_no_data()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        await client.ReadAsync(0, Memory<byte>.Empty);
        await client.FlushAsync();
    }

    internal static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>An export whose every I/O fails, to show errors reach the client and the connection lives on.</summary>
    private sealed class FailingExport : INbdExport
    {
        public string Name => "failing";

        public string? Description => null;

        public long Size => 1 << 20;

        public bool IsReadOnly => false;

        public bool CanMultiConn => false;

        public int MinimumBlockSize => 512;

        public int PreferredBlockSize => 4096;

        public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) => throw new IOException("disk on fire");

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken) => throw new IOException("disk on fire");

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken) =>
            throw new NbdException(NbdError.NotSupported, "zeroing would be slow");

        public int GetAllocation(long offset, long length, Span<NbdExtent> extents)
        {
            extents[0] = new NbdExtent((uint)length, NbdAllocationFlags.Data);
            return 1;
        }
    }
}
