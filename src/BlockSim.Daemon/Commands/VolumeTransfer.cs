using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using BlockSim.Daemon.Volumes;
using BlockSim.Storage;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim volume import|export</c>: copies a raw image into or out of a volume that is not being served,
/// with progress. The key is unwrapped as the person running the command (--as), so the key policy decides
/// on their own rights and the audit log names them. All-zero chunks stay holes on both sides.
/// </summary>
internal static class VolumeTransfer
{
    private const int ChunkSize = 1 << 20;

    public static Command Import()
    {
        var name = new Argument<string>("name");
        var image = new Argument<string>("image") { Description = "Raw image file to copy in (at most the volume's size)." };
        var command = new Command("import", "Copy a raw image into the start of a volume (encrypting it).") { name, image };
        command.SetAction(r => RunAsync(r, r.GetValue(name)!, readOnly: false, async volume =>
        {
            var source = r.GetValue(image)!;
            using var input = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
            var length = RandomAccess.GetLength(input);
            if (length > volume.Device.Capacity)
            {
                Console.Error.WriteLine($"{source} is {ByteSize.Format(length)}, larger than the volume ({ByteSize.Format(volume.Device.Capacity)}). Grow it first: blocksim volume resize {r.GetValue(name)} --size {length}");
                return ExitCodes.Usage;
            }

            var clock = Stopwatch.StartNew();
            await CopyAsync($"importing {Path.GetFileName(source)}", length, (offset, chunk) => ValueTask.FromResult(RandomAccess.Read(input, chunk.Span, offset)), new DeviceWriter(volume.Device)).ConfigureAwait(false);
            CliContext.Print(r, new VolumeCopied("import", r.GetValue(name)!, source, length, clock.Elapsed.TotalSeconds), CliJson.Output.VolumeCopied, c => $"imported {c.Bytes} bytes from {c.Image} into volume '{c.Name}'");
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Export()
    {
        var name = new Argument<string>("name");
        var image = new Argument<string>("image") { Description = "Raw image file to write (sparse)." };
        var force = new Option<bool>("--force") { Description = "Overwrite the image file if it exists." };
        var command = new Command("export", "Copy a volume's contents (decrypted) into a raw image file.") { name, image, force };
        command.SetAction(r => RunAsync(r, r.GetValue(name)!, readOnly: true, async volume =>
        {
            var target = r.GetValue(image)!;
            using var output = PrivateOutputFile.Create(target, replace: r.GetValue(force)); // decrypted data: 0600
            var capacity = volume.Device.Capacity;
            RandomAccess.SetLength(output.Handle, capacity); // sparse: chunks that are all zeros are never written
            var clock = Stopwatch.StartNew();
            await CopyAsync($"exporting {r.GetValue(name)}", capacity, (offset, chunk) => ReadFullyAsync(volume.Device, offset, chunk), new ImageWriter(output.Handle)).ConfigureAwait(false);
            output.Commit();
            CliContext.Print(r, new VolumeCopied("export", r.GetValue(name)!, target, capacity, clock.Elapsed.TotalSeconds), CliJson.Output.VolumeCopied, c => $"exported {c.Bytes} bytes of volume '{c.Name}' to {c.Image}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Task<int> RunAsync(ParseResult r, string name, bool readOnly, Func<Volume, Task<int>> body) =>
        CliContext.RunAsync(r, async () =>
        {
            using var volumes = CliContext.Volumes(r);
            var location = volumes.Existing(VolumeLocator.CheckName(name));
            using var store = CliContext.OpenStore(r);
            var caller = CliContext.Caller(r, store) with { InvokedBy = KeyStoreVolumeKeys.CliPrincipal };
            using var volume = Volume.Open(location, new KeyStoreVolumeKeys(store, unwrapAs: caller), readOnly);
            return await body(volume).ConfigureAwait(false);
        });

    private static async Task CopyAsync(string what, long length, Func<long, Memory<byte>, ValueTask<int>> read, IBlockWriter target)
    {
        var progress = new ProgressReporter(what, length);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            for (long offset = 0; offset < length;)
            {
                var want = (int)Math.Min(ChunkSize, length - offset);
                var got = await read(offset, buffer.AsMemory(0, want)).ConfigureAwait(false);
                if (got <= 0)
                {
                    throw new IOException($"The source ended early, at {offset} of {length} bytes.");
                }

                var chunk = buffer.AsMemory(0, got);
                await target.WriteAsync(offset, chunk, isZero: !chunk.Span.ContainsAnyExcept((byte)0)).ConfigureAwait(false);
                offset += got;
                progress.Report(offset);
            }

            await target.FlushAsync().ConfigureAwait(false);
            progress.Report(length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async ValueTask<int> ReadFullyAsync(IBlockDevice device, long offset, Memory<byte> chunk)
    {
        await device.ReadAsync(offset, chunk).ConfigureAwait(false);
        return chunk.Length;
    }

    /// <summary>Where copied chunks go: a volume's device or an image file.</summary>
    private interface IBlockWriter
    {
        ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> chunk, bool isZero);

        ValueTask FlushAsync();
    }

    private sealed class DeviceWriter(IBlockDevice device) : IBlockWriter
    {
        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> chunk, bool isZero) => isZero
            ? device.WriteZeroesAsync(offset, chunk.Length, mayDeallocate: true)
            : device.WriteAsync(offset, chunk);

        public ValueTask FlushAsync() => device.FlushAsync();
    }

    private sealed class ImageWriter(Microsoft.Win32.SafeHandles.SafeFileHandle file) : IBlockWriter
    {
        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> chunk, bool isZero)
        {
            if (!isZero)
            {
                RandomAccess.Write(file, chunk.Span, offset);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync() => ValueTask.CompletedTask;
    }
}
