using System.IO.Pipelines;

namespace BlockSim.Nbd.Server.Transport;

/// <summary>
/// Pipes over a stream (a socket, or the TLS stream STARTTLS puts on it). The stream stays open when the
/// pipes complete, so STARTTLS can drop the plaintext pipes and lay TLS over the same socket.
/// </summary>
internal sealed class StreamDuplexPipe(Stream stream) : IDuplexPipe
{
    public PipeReader Input { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));

    public PipeWriter Output { get; } = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
}
