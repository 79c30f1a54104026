using System.Buffers;
using System.IO.Pipelines;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// One NBD server for the whole fuzzing process (as a daemon serves many clients), with a 1 MiB memory
/// export "mem"; each input is one connection over an in-memory pipe: all of it, then end of stream.
/// </summary>
internal static class InMemoryNbdServer
{
    public const long ExportSize = 1L << 20;

    /// <summary>The most reply bytes kept for checking; past it the rest is drained unread.</summary>
    public const int MaxKeptOutput = 16 << 20;

    private static readonly ServerCrashLog s_log = new();
    private static readonly NbdServer s_server = new(
        new ExportRegistry([new MemoryExport("mem", ExportSize, "fuzz memory export")]),
        new NbdServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(5), MaxMemory = 256L << 20 },
        s_log);

    /// <summary>Serves <paramref name="input"/> as one connection and returns what the server sent back.</summary>
    public static byte[] Serve(ReadOnlySpan<byte> input, out bool complete)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var serving = s_server.ServeAsync(new DuplexPipe(toServer.Reader, toClient.Writer));
        var output = new MemoryStream();
        var overflowed = false;
        var draining = Task.Run(async () =>
        {
            while (true)
            {
                var read = await toClient.Reader.ReadAsync().ConfigureAwait(false);
                foreach (var segment in read.Buffer)
                {
                    overflowed |= output.Length + segment.Length > MaxKeptOutput;
                    if (!overflowed)
                    {
                        output.Write(segment.Span);
                    }
                }

                toClient.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        });

        toServer.Writer.Write(input);
        toServer.Writer.Complete();
        if (!serving.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new FuzzFinding("the connection still runs 10 s after its input ended");
        }

        if (!draining.Wait(TimeSpan.FromSeconds(10)))
        {
            throw new FuzzFinding("the server's output did not end after its connection did");
        }

        if (s_log.Crashes.TryDequeue(out var crash))
        {
            throw new FuzzFinding($"the server logged an unexpected exception: {crash}");
        }

        complete = !overflowed;
        return output.ToArray();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
