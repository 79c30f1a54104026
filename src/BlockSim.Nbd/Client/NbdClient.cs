using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Client;

/// <summary>
/// An NBD client: fixed-newstyle handshake with NBD_OPT_GO, every transmission command, simple and
/// structured replies, and any number of requests in flight (each call may run concurrently).
/// </summary>
public sealed partial class NbdClient : IAsyncDisposable
{
    // Replaced once, when STARTTLS lays TLS over the socket.
    private Stream _stream;
    private Stream _reader;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<ulong, Pending> _pending = new();
    private Task? _receiver;
    private long _nextCookie;
    private Exception? _failure;
    private volatile bool _disposing;

    private NbdClient(Stream stream)
    {
        _stream = stream;
        _reader = new BufferedStream(stream, 64 * 1024);
    }

    public long Size { get; private set; }

    public NbdTransmissionFlags Flags { get; private set; }

    public bool StructuredReplies { get; private set; }

    public bool AllocationContext { get; private set; }

    public uint PreferredBlockSize { get; private set; }

    public static async Task<NbdClient> ConnectTcpAsync(string host, int port, NbdClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        return await AttachAsync(new NetworkStream(socket, ownsSocket: true), options ?? new(), cancellationToken).ConfigureAwait(false);
    }

    public static async Task<NbdClient> ConnectUnixAsync(string path, NbdClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        return await AttachAsync(new NetworkStream(socket, ownsSocket: true), options ?? new(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the handshake on a connected stream and starts the reply reader.</summary>
    public static async Task<NbdClient> AttachAsync(Stream stream, NbdClientOptions options, CancellationToken cancellationToken = default)
    {
        var client = new NbdClient(stream);
        try
        {
            await client.HandshakeAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        client._receiver = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        return client;
    }

    /// <summary>NBD_OPT_LIST: the exports a server offers (name and description), then NBD_OPT_ABORT.</summary>
    public static async Task<IReadOnlyList<(string Name, string Description)>> ListAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var client = new NbdClient(stream);
        await client.GreetAsync(cancellationToken).ConfigureAwait(false);
        await client.SendOptionAsync(NbdOption.List, [], cancellationToken).ConfigureAwait(false);
        var exports = new List<(string, string)>();
        while (true)
        {
            var (type, data) = await client.ReadOptionReplyAsync(NbdOption.List, cancellationToken).ConfigureAwait(false);
            if (type == NbdOptionReplyType.Ack)
            {
                break;
            }

            var nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
            exports.Add((Encoding.UTF8.GetString(data, 4, nameLength), Encoding.UTF8.GetString(data, 4 + nameLength, data.Length - 4 - nameLength)));
        }

        await client.SendOptionAsync(NbdOption.Abort, [], cancellationToken).ConfigureAwait(false);
        return exports;
    }

    public Task ReadAsync(ulong offset, Memory<byte> destination, NbdCommandFlags flags = NbdCommandFlags.None) =>
        SendAsync(new Pending(NbdCommand.Read, offset, destination), flags, (uint)destination.Length, default);

    public Task WriteAsync(ulong offset, ReadOnlyMemory<byte> source, NbdCommandFlags flags = NbdCommandFlags.None) =>
        SendAsync(new Pending(NbdCommand.Write, offset, default), flags, (uint)source.Length, source);

    public Task FlushAsync() => SendAsync(new Pending(NbdCommand.Flush, 0, default), NbdCommandFlags.None, 0, default);

    public Task TrimAsync(ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None) =>
        SendAsync(new Pending(NbdCommand.Trim, offset, default), flags, length, default);

    public Task WriteZeroesAsync(ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None) =>
        SendAsync(new Pending(NbdCommand.WriteZeroes, offset, default), flags, length, default);

    public Task CacheAsync(ulong offset, uint length) =>
        SendAsync(new Pending(NbdCommand.Cache, offset, default), NbdCommandFlags.None, length, default);

    public async Task<IReadOnlyList<NbdExtent>> BlockStatusAsync(ulong offset, uint length, NbdCommandFlags flags = NbdCommandFlags.None)
    {
        var pending = new Pending(NbdCommand.BlockStatus, offset, default);
        await SendAsync(pending, flags, length, default).ConfigureAwait(false);
        return pending.Extents;
    }

    /// <summary>Sends any request as given, for tests of how a server treats odd requests.</summary>
    public Task SendRawAsync(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, ReadOnlyMemory<byte> payload = default) =>
        SendAsync(new Pending(command, offset, default), flags, length, payload);

    /// <summary>NBD_CMD_DISC, then waits for the server to close.</summary>
    public async Task DisconnectAsync()
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var header = new byte[NbdRequest.Size];
            new NbdRequest(NbdCommandFlags.None, NbdCommand.Disconnect, 0, 0, 0).WriteTo(header);
            await _stream.WriteAsync(header).ConfigureAwait(false);
            await _stream.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }

        if (_receiver is not null)
        {
            await _receiver.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        await _stream.DisposeAsync().ConfigureAwait(false);
        if (_receiver is not null)
        {
            // The reader fails on the closed stream; that is the close, not an error to report.
            await _receiver.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        _sendLock.Dispose();
    }

    // Up to this size a WRITE payload is copied behind its header: the copy costs no more than the send it saves.
    private const int CopyPayloadUpTo = 64 * 1024;

    private async Task SendAsync(Pending pending, NbdCommandFlags flags, uint length, ReadOnlyMemory<byte> payload)
    {
        if (_failure is not null)
        {
            throw new IOException("The NBD connection has failed.", _failure);
        }

        var cookie = (ulong)Interlocked.Increment(ref _nextCookie);
        _pending[cookie] = pending;

        // A small payload travels in the header's buffer: one send, not two (with TCP_NODELAY the header
        // would go out as a segment of its own, and the server would need a second read for the payload).
        var together = payload.Length <= CopyPayloadUpTo;
        var message = ArrayPool<byte>.Shared.Rent(NbdRequest.Size + (together ? payload.Length : 0));
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            new NbdRequest(flags, pending.Command, cookie, pending.Offset, length).WriteTo(message);
            if (together)
            {
                payload.Span.CopyTo(message.AsSpan(NbdRequest.Size));
                await _stream.WriteAsync(message.AsMemory(0, NbdRequest.Size + payload.Length)).ConfigureAwait(false);
            }
            else
            {
                await _stream.WriteAsync(message.AsMemory(0, NbdRequest.Size)).ConfigureAwait(false);
                await _stream.WriteAsync(payload).ConfigureAwait(false);
            }

            await _stream.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _pending.TryRemove(cookie, out _);
            throw new IOException("Sending to the NBD server failed.", e);
        }
        finally
        {
            _sendLock.Release();
            ArrayPool<byte>.Shared.Return(message);
        }

        await pending.Done.Task.ConfigureAwait(false);
    }

    /// <summary>One request awaiting its reply; structured chunks fill it in until DONE.</summary>
    private sealed class Pending(NbdCommand command, ulong offset, Memory<byte> readBuffer)
    {
        public NbdCommand Command { get; } = command;

        public ulong Offset { get; } = offset;

        public Memory<byte> ReadBuffer { get; } = readBuffer;

        public List<NbdExtent> Extents { get; } = [];

        public NbdError Error { get; set; }

        public string? Message { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete()
        {
            if (Error == NbdError.None)
            {
                Done.TrySetResult();
            }
            else
            {
                Done.TrySetException(new NbdClientException(Error, $"{Command} failed with {Error}" + (Message is { Length: > 0 } m ? $": {m}" : "")));
            }
        }
    }
}
