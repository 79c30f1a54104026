using System.Net.Sockets;

namespace BlockSim.Nbd.Server.Transport;

/// <summary>
/// A connection's socket stream that does even its async calls as blocking system calls until
/// <see cref="SwitchToAsynchronous"/>. The handshake (and TLS's) then runs on the connection's own thread,
/// and a socket that is never used asynchronously never joins .NET's epoll engine: an inline connection's
/// blocking reads wake that thread directly. Once a socket has had an async operation .NET only emulates
/// blocking calls on it (its epoll thread and a thread-pool item wake the waiting thread), which costs the
/// very hand-offs inline transmission exists to avoid.
/// </summary>
internal sealed class BlockingSocketStream(NetworkStream inner) : Stream
{
    private volatile bool _asynchronous;

    public Socket Socket => inner.Socket;

    /// <summary>From here on async calls are truly asynchronous (the pipelined transmission on the thread pool).</summary>
    public void SwitchToAsynchronous() => _asynchronous = true;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_asynchronous)
        {
            return inner.ReadAsync(buffer, cancellationToken);
        }

        // A blocking read cannot see the token: whoever cancels also shuts the socket's receive side.
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(inner.Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_asynchronous)
        {
            return inner.WriteAsync(buffer, cancellationToken);
        }

        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            inner.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask; // a socket holds nothing back

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
