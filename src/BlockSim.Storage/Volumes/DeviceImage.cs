namespace BlockSim.Storage.Volumes;

/// <summary>
/// A device's contents written out as a file, sparse: a volume file of its own (header and ciphertext, so it
/// opens with the key store like the volume it was taken from) or a raw image. What a recording starts
/// from, so the states built from the log have the disk as it was. New files only, 0600, made durable.
/// </summary>
public static class DeviceImage
{
    private const int Chunk = 1024 * 1024;

    /// <summary>A standalone volume file: <paramref name="header"/> in both places and <paramref name="ciphertext"/>'s bytes as its data area.</summary>
    public static Task WriteVolumeAsync(string path, VolumeHeader header, IBlockDevice ciphertext, CancellationToken cancellationToken = default)
    {
        var bytes = header.Serialize();
        return WriteAsync(path, ciphertext, VolumeHeader.DataOffset, handle =>
        {
            RandomAccess.Write(handle, bytes, VolumeHeader.PrimaryOffset);
            RandomAccess.Write(handle, bytes, VolumeHeader.BackupOffset);
        }, cancellationToken);
    }

    /// <summary>A raw image: the device's bytes from offset 0.</summary>
    public static Task WriteRawAsync(string path, IBlockDevice device, CancellationToken cancellationToken = default) =>
        WriteAsync(path, device, 0, _ => { }, cancellationToken);

    private static async Task WriteAsync(string path, IBlockDevice device, long at, Action<Microsoft.Win32.SafeHandles.SafeFileHandle> prologue, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        var made = false;
        try
        {
            using var file = new FileStream(path, options);
            made = true;
            RandomAccess.SetLength(file.SafeFileHandle, at + device.Capacity);
            prologue(file.SafeFileHandle);
            var buffer = new byte[Chunk];
            var extents = new BlockExtent[64];
            for (long offset = 0; offset < device.Capacity;)
            {
                var length = (int)Math.Min(Chunk, device.Capacity - offset);
                var count = device.GetAllocation(offset, length, extents);
                if (count == 1 && extents[0].State == Allocation.Hole && extents[0].Length >= length)
                {
                    offset += length; // a hole stays a hole
                    continue;
                }

                var data = buffer.AsMemory(0, length);
                await device.ReadAsync(offset, data, cancellationToken).ConfigureAwait(false);
                if (data.Span.ContainsAnyExcept((byte)0))
                {
                    await RandomAccess.WriteAsync(file.SafeFileHandle, data, at + offset, cancellationToken).ConfigureAwait(false);
                }

                offset += length;
            }

            RandomAccess.FlushToDisk(file.SafeFileHandle);
        }
        catch when (made)
        {
            File.Delete(path); // nothing half-written left behind to be taken for a base
            throw;
        }
    }
}
