using System.Buffers.Binary;
using System.Text;
using BlockSim.Crypto;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Latency;

namespace BlockSim.Nbd.Tests;

public class HandshakeTests
{
    [Fact]
    public async Task The_greeting_offers_fixed_newstyle_and_no_zeroes()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        var greeting = await raw.ReadAsync(18);
        Assert.Equal(NbdMagic.Init, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(NbdMagic.IHaveOpt, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16)));
    }

    [Theory]
    [InlineData(0u)]            // not fixed newstyle
    [InlineData(1u | (1u << 5))] // an unknown flag
    public async Task Unsupported_client_flags_close_the_connection(uint flags)
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync((NbdClientFlags)flags);
        Assert.True(await raw.IsClosedByServerAsync());
    }

    [Theory]
    [InlineData(4u)]      // NBD_OPT_PEEK_EXPORT, withdrawn
    [InlineData(11u)]     // EXTENDED_HEADERS, experimental
    [InlineData(12345u)]
    public async Task Unknown_options_get_err_unsup_and_haggling_goes_on(uint option)
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync(option, [1, 2, 3]);
        var (echoed, type, _) = await raw.ReadOptionReplyAsync();
        Assert.Equal(option, echoed);
        Assert.Equal(NbdOptionReplyType.ErrorUnsupported, type);
        Assert.Equal(NbdTransmissionFlags.HasFlags, await raw.GoAsyncAfterGreeting("mem") & NbdTransmissionFlags.HasFlags);
    }

    [Fact]
    public async Task The_flags_advertise_what_the_device_stack_can_do()
    {
        using var hdd = new BlockDeviceExport("hdd", new HddDevice(new MemoryBlockDevice(1 << 20), HddGeometry.Default, seed: 1));
        using var encrypted = new BlockDeviceExport("encrypted", new EncryptedBlockDevice(new MemoryBlockDevice(1 << 20), new XtsAes256(new byte[64].Select((_, i) => (byte)i).ToArray()), 512));
        await using var server = new TestServer(null, hdd, encrypted);
        const NbdTransmissionFlags trimAndFastZero = NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendFastZero;

        await using (var raw = await server.RawAsync())
        {
            var flags = await raw.GoAsync("hdd");
            Assert.Equal(NbdTransmissionFlags.Rotational, flags & (trimAndFastZero | NbdTransmissionFlags.Rotational));
            Assert.True(flags.HasFlag(NbdTransmissionFlags.SendWriteZeroes));
        }

        // Layers pass on the capabilities beneath them: encryption over memory trims and zeroes fast.
        await using (var raw = await server.RawAsync())
        {
            Assert.Equal(trimAndFastZero, await raw.GoAsync("encrypted") & (trimAndFastZero | NbdTransmissionFlags.Rotational));
        }
    }

    [Fact]
    public async Task List_names_every_export_then_acks()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.List);
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        var names = replies.Where(r => r.Type == NbdOptionReplyType.Server)
            .Select(r => Encoding.UTF8.GetString(r.Data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(r.Data)))
            .ToArray();
        Assert.Equal(["mem", "ro"], names);
    }

    [Theory]
    [InlineData(NbdOption.List)]
    [InlineData(NbdOption.StructuredReply)]
    public async Task A_payload_where_none_belongs_is_err_invalid(NbdOption option)
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)option, [0, 0, 0, 1]);
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Single(replies); // the error alone: no list sent anyway (nbd-server's bug)
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, replies[0].Type);
    }

    [Fact]
    public async Task Starttls_without_tls_configured_is_err_policy()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.StartTls);
        Assert.Equal(NbdOptionReplyType.ErrorPolicy, (await raw.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task Abort_is_acked_then_the_connection_closes()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.Abort);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionReplyAsync()).Type);
        Assert.True(await raw.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Export_name_for_a_known_export_sends_size_and_flags()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync(NbdClientFlags.FixedNewstyle); // without NO_ZEROES: 124 zero bytes follow
        await raw.SendOptionAsync((uint)NbdOption.ExportName, Encoding.UTF8.GetBytes("mem"));
        var reply = await raw.ReadAsync(10 + 124);
        Assert.Equal((ulong)TestServer.MemorySize, BinaryPrimitives.ReadUInt64BigEndian(reply));
        var flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8));
        Assert.True(flags.HasFlag(NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua | NbdTransmissionFlags.CanMultiConn));
        Assert.False(flags.HasFlag(NbdTransmissionFlags.SendDf)); // no structured replies were negotiated
        Assert.All(reply.AsSpan(10).ToArray(), b => Assert.Equal(0, b));
        await raw.SendRequestAsync(NbdCommand.Flush, 0, 42, 0, 0);
        Assert.Equal((NbdError.None, 42UL), await raw.ReadSimpleReplyAsync());
    }

    [Fact]
    public async Task Export_name_for_an_unknown_export_closes_the_connection()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.ExportName, Encoding.UTF8.GetBytes("nope"));
        Assert.True(await raw.IsClosedByServerAsync());
    }

    [Fact]
    public async Task The_empty_name_means_the_default_export()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.Info, RawNbd.InfoPayload("", NbdInfoType.Name));
        var replies = await raw.ReadOptionRepliesAsync();
        var name = replies.Single(r => r.Type == NbdOptionReplyType.Info && BinaryPrimitives.ReadUInt16BigEndian(r.Data) == (ushort)NbdInfoType.Name);
        Assert.Equal("mem", Encoding.UTF8.GetString(name.Data, 2, name.Data.Length - 2));
    }

    [Fact]
    public async Task Info_for_an_unknown_export_is_err_unknown()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.Info, RawNbd.InfoPayload("nope"));
        Assert.Equal(NbdOptionReplyType.ErrorUnknown, (await raw.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task Info_then_go_answer_the_same_and_unknown_info_types_are_ignored()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        var payload = RawNbd.InfoPayload("mem", NbdInfoType.BlockSize, NbdInfoType.Description, (NbdInfoType)77);
        await raw.SendOptionAsync((uint)NbdOption.Info, payload);
        var info = await raw.ReadOptionRepliesAsync();
        await raw.SendOptionAsync((uint)NbdOption.Go, payload);
        var go = await raw.ReadOptionRepliesAsync();
        Assert.Equal(info.Select(r => (r.Type, Convert.ToHexString(r.Data))), go.Select(r => (r.Type, Convert.ToHexString(r.Data))));
        var blockSize = info.Single(r => r.Type == NbdOptionReplyType.Info && BinaryPrimitives.ReadUInt16BigEndian(r.Data) == (ushort)NbdInfoType.BlockSize).Data;
        Assert.Equal((uint)NbdLimits.MaxPayload, BinaryPrimitives.ReadUInt32BigEndian(blockSize.AsSpan(10)));
    }

    [Fact]
    public async Task A_block_size_is_not_sent_unless_asked()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.Go, RawNbd.InfoPayload("mem"));
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Equal(2, replies.Count); // INFO_EXPORT and ACK: the kernel never asks and must not need to
    }

    [Fact]
    public async Task Malformed_info_payload_is_err_invalid()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        var payload = RawNbd.InfoPayload("mem", NbdInfoType.Name);
        await raw.SendOptionAsync((uint)NbdOption.Info, payload[..^1]);
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await raw.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task Set_meta_context_needs_structured_replies()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.SetMetaContext, RawNbd.MetaContextPayload("mem", NbdLimits.AllocationContext));
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await raw.ReadOptionReplyAsync()).Type);
    }

    [Fact]
    public async Task List_meta_context_offers_base_allocation()
    {
        await using var server = new TestServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync((uint)NbdOption.ListMetaContext, RawNbd.MetaContextPayload("mem"));
        var replies = await raw.ReadOptionRepliesAsync();
        var context = Assert.Single(replies, r => r.Type == NbdOptionReplyType.MetaContext);
        Assert.Equal(NbdLimits.AllocationContext, Encoding.UTF8.GetString(context.Data, 4, context.Data.Length - 4));
        await raw.SendOptionAsync((uint)NbdOption.ListMetaContext, RawNbd.MetaContextPayload("mem", "qemu:dirty-bitmap:x"));
        Assert.DoesNotContain((await raw.ReadOptionRepliesAsync()), r => r.Type == NbdOptionReplyType.MetaContext);
    }

    [Fact]
    public async Task An_oversized_option_closes_the_connection()
    {
        await using var server = new TestServer(new NbdServerOptions { MaxOptionLength = 1024 });
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendOptionAsync(12345, new byte[1025]);
        Assert.True(await raw.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Too_many_options_close_the_connection()
    {
        await using var server = new TestServer(new NbdServerOptions { MaxOptions = 5 });
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        for (var i = 0; i < 5; i++)
        {
            await raw.SendOptionAsync(12345);
            Assert.Equal(NbdOptionReplyType.ErrorUnsupported, (await raw.ReadOptionReplyAsync()).Type);
        }

        await raw.SendOptionAsync(12345);
        Assert.True(await raw.IsClosedByServerAsync());
    }

    [Fact]
    public async Task A_client_that_says_nothing_is_dropped_after_the_handshake_timeout()
    {
        await using var server = new TestServer(new NbdServerOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        await using var raw = await server.RawAsync();
        await raw.ReadAsync(18);
        Assert.True(await raw.IsClosedByServerAsync());
    }
}

internal static class RawNbdHandshakeExtensions
{
    /// <summary>GO after the greeting was already exchanged.</summary>
    public static async Task<NbdTransmissionFlags> GoAsyncAfterGreeting(this RawNbd raw, string export)
    {
        await raw.SendOptionAsync((uint)NbdOption.Go, RawNbd.InfoPayload(export));
        var replies = await raw.ReadOptionRepliesAsync();
        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        return (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(replies[0].Data.AsSpan(10));
    }
}
