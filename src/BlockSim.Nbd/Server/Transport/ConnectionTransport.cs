using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;

namespace BlockSim.Nbd.Server.Transport;

/// <summary>
/// How a connection's bytes come and go, apart from what they mean: the duplex pipe over the stream, the
/// stream itself (TCP, Unix socket, or TLS over either; none for an in-memory pipe) and the socket under
/// it. STARTTLS replaces the pipe and the stream once (<see cref="LayTlsAsync"/>); everything else reads
/// them from here, so nothing holds on to the plaintext ones.
/// </summary>
internal sealed class ConnectionTransport
{
    public ConnectionTransport(IDuplexPipe pipe, Stream? stream)
    {
        Input = pipe.Input;
        Output = pipe.Output;
        Stream = stream;
        BlockingSocket = stream as BlockingSocketStream;
        Socket = BlockingSocket?.Socket;
    }

    public PipeReader Input { get; private set; }

    public PipeWriter Output { get; private set; }

    /// <summary>The stream under the pipe: closed with the connection, and what TLS is laid over.</summary>
    public Stream? Stream { get; private set; }

    /// <summary>The socket under the stream (TLS included): shutting it down wakes a blocked read or send.</summary>
    public Socket? Socket { get; }

    /// <summary>Set for accepted sockets, whose I/O stays blocking until a pipelined transmission asks otherwise.</summary>
    public BlockingSocketStream? BlockingSocket { get; }

    /// <summary>
    /// Drops the plaintext pipes (which leave the socket open) and lays TLS over the stream; the caller then
    /// runs the TLS handshake on the stream returned. Only for a transport with a stream.
    /// </summary>
    public async ValueTask<SslStream> LayTlsAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        var tls = new SslStream(Stream!, leaveInnerStreamOpen: false);
        Stream = tls;
        var pipe = new StreamDuplexPipe(tls);
        Input = pipe.Input;
        Output = pipe.Output;
        return tls;
    }

    /// <summary>
    /// Wakes whatever waits for input, for good: a pending pipe read returns cancelled, and shutting the
    /// socket's receive side ends a blocking read (inline) or a pending one (pipelined) with end of stream.
    /// </summary>
    public void StopReceiving()
    {
        Input.CancelPendingRead();
        ShutDownReceiving();
    }

    /// <summary>Shuts the socket's receive side only (a blocking handshake read does not see its token).</summary>
    public void ShutDownReceiving() => ShutDown(SocketShutdown.Receive);

    public void ShutDown(SocketShutdown how)
    {
        try
        {
            Socket?.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed: nothing left to wake.
        }
    }

    /// <summary>
    /// Reads exactly <paramref name="count"/> bytes (cold path: the handshake). Returns null at end of stream.
    /// </summary>
    public async ValueTask<byte[]?> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return []; // never wait for bytes that are not needed
        }

        while (true)
        {
            var result = await Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                Input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Reads one message with a parser that consumes nothing until it has all of it (the handshake's fixed
    /// parts). Returns the parser's Done or InvalidData; NeedMoreData means the stream ended first.
    /// </summary>
    public async ValueTask<(OperationStatus Status, T Value)> ReadAsync<T>(MessageParser<T> parse, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = Parse(parse, buffer, out var value, out var consumed);
            if (status == OperationStatus.Done)
            {
                Input.AdvanceTo(consumed);
                return (status, value);
            }

            Input.AdvanceTo(buffer.Start, buffer.End);
            if (status == OperationStatus.InvalidData || result.IsCompleted || result.IsCanceled)
            {
                return (status, value);
            }
        }
    }

    // Out of the async method: a SequenceReader is a ref struct and cannot live across an await.
    private static OperationStatus Parse<T>(MessageParser<T> parse, ReadOnlySequence<byte> buffer, out T value, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var status = parse(ref reader, out value);
        consumed = reader.Position;
        return status;
    }

    /// <summary>Reads and throws away <paramref name="count"/> bytes; false at end of stream.</summary>
    public async ValueTask<bool> SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var result = await Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var take = Math.Min(count, buffer.Length);
            Input.AdvanceTo(buffer.GetPosition(take));
            count -= take;
            if (count > 0 && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Completes the pipes and closes the stream. Completing the output flushes what is left, which fails
    /// when the client has gone (broken pipe): that is the normal end of such a connection, not an error for
    /// whoever awaits it (a server stopping with a vanished client must not fail).
    /// </summary>
    public async Task CloseAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // the client is gone; nothing more can reach it
        }

        if (Stream is not null)
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A parser in the shape of the protocol's: consumes nothing unless it returns Done.</summary>
internal delegate OperationStatus MessageParser<T>(ref SequenceReader<byte> reader, out T value);
