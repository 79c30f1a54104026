using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Tests;

/// <summary>A byte-level peer for tests of how the server treats exact (and wrong) bytes.</summary>
public sealed class RawNbd : IAsyncDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private Stream _stream;

    private RawNbd(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <param name="receiveBuffer">The client's socket receive buffer (0: the system's), small to make the server's sends block early.</param>
    /// <param name="from">The client's own address (any of 127.0.0.0/8 on Linux), to stand for several client machines.</param>
    public static async Task<RawNbd> ConnectAsync(int port, int receiveBuffer = 0, IPAddress? from = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer > 0)
        {
            socket.ReceiveBufferSize = receiveBuffer;
        }

        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync("127.0.0.1", port);
        return new RawNbd(socket);
    }

    public async Task<byte[]> ReadAsync(int count)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(s_timeout);
        await _stream.ReadExactlyAsync(buffer, cts.Token);
        return buffer;
    }

    /// <summary>Lays TLS over the connection (after the server has answered STARTTLS with ACK).</summary>
    public async Task UpgradeToTlsAsync(SslClientAuthenticationOptions options)
    {
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        using var cts = new CancellationTokenSource(s_timeout);
        await tls.AuthenticateAsClientAsync(options, cts.Token);
        _stream = tls;
    }

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    public Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) => _stream.WriteAsync(bytes, cancellationToken).AsTask();

    /// <summary>Reads the greeting and answers with the given client flags.</summary>
    public async Task<byte[]> GreetAsync(NbdClientFlags flags = NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)
    {
        var greeting = await ReadAsync(18);
        await SendAsync(BigEndian32((uint)flags));
        return greeting;
    }

    public Task SendOptionAsync(uint option, byte[]? payload = null) => SendAsync(Option(option, payload));

    /// <summary>An option as the client sends it: magic, option, length, payload.</summary>
    public static byte[] Option(uint option, byte[]? payload = null)
    {
        payload ??= [];
        var message = new byte[16 + payload.Length];
        BinaryPrimitives.WriteUInt64BigEndian(message, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(12), (uint)payload.Length);
        payload.CopyTo(message, 16);
        return message;
    }

    /// <summary>A request header and its payload as the client sends them.</summary>
    public static byte[] Request(NbdCommand command, ulong cookie, ulong offset, uint length, byte[]? payload = null)
    {
        var message = new byte[NbdRequest.Size + (payload?.Length ?? 0)];
        new NbdRequest(NbdCommandFlags.None, command, cookie, offset, length).WriteTo(message);
        payload?.CopyTo(message, NbdRequest.Size);
        return message;
    }

    public async Task<(uint Option, NbdOptionReplyType Type, byte[] Data)> ReadOptionReplyAsync()
    {
        var header = await ReadAsync(20);
        Assert.Equal(NbdMagic.OptionReply, BinaryPrimitives.ReadUInt64BigEndian(header));
        var data = await ReadAsync((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)));
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)), (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)), data);
    }

    /// <summary>Option replies up to and including the final ACK or error.</summary>
    public async Task<List<(NbdOptionReplyType Type, byte[] Data)>> ReadOptionRepliesAsync()
    {
        var replies = new List<(NbdOptionReplyType, byte[])>();
        while (true)
        {
            var (_, type, data) = await ReadOptionReplyAsync();
            replies.Add((type, data));
            if (type == NbdOptionReplyType.Ack || (uint)type >= 0x80000000)
            {
                return replies;
            }
        }
    }

    /// <summary>True when the server closes the connection (reads end) within the timeout.</summary>
    public Task<bool> IsClosedByServerAsync() => IsClosedByServerAsync(s_timeout);

    /// <summary>True when the server closes the connection (reads end) within <paramref name="timeout"/>.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true; // reset
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Handshake with GO on an export (optionally with structured replies first); returns its transmission flags.</summary>
    public async Task<NbdTransmissionFlags> GoAsync(string export, bool structured = false)
    {
        await GreetAsync();
        if (structured)
        {
            await SendOptionAsync((uint)NbdOption.StructuredReply);
            Assert.Equal(NbdOptionReplyType.Ack, (await ReadOptionReplyAsync()).Type);
        }

        await SendOptionAsync((uint)NbdOption.Go, InfoPayload(export));
        var replies = await ReadOptionRepliesAsync();
        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        var info = replies.Single(r => r.Type == NbdOptionReplyType.Info && BinaryPrimitives.ReadUInt16BigEndian(r.Data) == 0).Data;
        return (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(info.AsSpan(10));
    }

    public Task SendRequestAsync(NbdCommand command, NbdCommandFlags flags, ulong cookie, ulong offset, uint length, byte[]? payload = null)
    {
        var message = new byte[NbdRequest.Size + (payload?.Length ?? 0)];
        new NbdRequest(flags, command, cookie, offset, length).WriteTo(message);
        payload?.CopyTo(message, NbdRequest.Size);
        return SendAsync(message);
    }

    /// <summary>Reads a simple reply header: (error, cookie).</summary>
    public async Task<(NbdError Error, ulong Cookie)> ReadSimpleReplyAsync()
    {
        var reply = await ReadAsync(16);
        Assert.Equal(NbdMagic.SimpleReply, BinaryPrimitives.ReadUInt32BigEndian(reply));
        return ((NbdError)BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)), BinaryPrimitives.ReadUInt64BigEndian(reply.AsSpan(8)));
    }

    public static byte[] InfoPayload(string export, params NbdInfoType[] requests)
    {
        var name = Encoding.UTF8.GetBytes(export);
        var payload = new byte[4 + name.Length + 2 + (2 * requests.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
        name.CopyTo(payload, 4);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(4 + name.Length), (ushort)requests.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(6 + name.Length + (2 * i)), (ushort)requests[i]);
        }

        return payload;
    }

    public static byte[] MetaContextPayload(string export, params string[] queries)
    {
        var name = Encoding.UTF8.GetBytes(export);
        var parts = queries.Select(Encoding.UTF8.GetBytes).ToArray();
        var payload = new byte[4 + name.Length + 4 + parts.Sum(p => 4 + p.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
        name.CopyTo(payload, 4);
        var at = 4 + name.Length;
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(at), (uint)parts.Length);
        at += 4;
        foreach (var part in parts)
        {
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(at), (uint)part.Length);
            part.CopyTo(payload, at + 4);
            at += 4 + part.Length;
        }

        return payload;
    }

    public static byte[] BigEndian32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>Drops the connection with a TCP reset (no orderly close), as a crashed client or a cut cable does.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
