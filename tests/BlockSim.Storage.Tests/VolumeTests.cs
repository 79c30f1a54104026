using System.Buffers.Binary;
using System.Security.Cryptography;
using BlockSim.Crypto.Tests;
using BlockSim.Storage.Volumes;

namespace BlockSim.Storage.Tests;

public class VolumeTests
{
    private const long Capacity = 32L << 20;

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task A_volume_keeps_data_across_close_and_open(int sectorSize)
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys, sectorSize: sectorSize);
        var data = RandomBytes(100_000, 1);
        using (var volume = Volume.Open(path, keys))
        {
            await volume.Device.WriteAsync(12345, data);
            await volume.Device.FlushAsync();
        }

        using (var volume = Volume.Open(path, keys, readOnly: true))
        {
            Assert.Equal(Capacity, volume.Device.Capacity);
            Assert.Empty(volume.Warnings);
            var back = new byte[data.Length];
            await volume.Device.ReadAsync(12345, back);
            Assert.Equal(data, back);
        }
    }

    [Fact]
    public async Task Plaintext_never_reaches_the_file_and_openssl_decrypts_its_sectors()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys, sectorSize: 4096);
        var pattern = new byte[8192];
        for (var i = 0; i < pattern.Length; i += 16)
        {
            "RECOGNISABLE-PT!"u8.CopyTo(pattern.AsSpan(i));
        }

        using (var volume = Volume.Open(path, keys))
        {
            await volume.Device.WriteAsync(7 * 4096, pattern);
            await volume.Device.FlushAsync();
        }

        var file = File.ReadAllBytes(path);
        Assert.Equal(-1, file.AsSpan().IndexOf("RECOGNISABLE"u8));

        // Sector 7 of the data area, decrypted by OpenSSL with the unwrapped key and tweak 7 (little-endian).
        var (header, _) = Volume.ReadHeader(path);
        var key = new byte[64];
        keys.UnwrapVolumeKey(header.VolumeId, header.Owner, new WrappedVolumeKey(header.KeyId, header.WrappedKey), key);
        var tweak = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(tweak, 7);
        var sector = file.AsSpan((int)VolumeHeader.DataOffset + (7 * 4096), 4096).ToArray();
        Assert.Equal(pattern[..4096], OpenSslXts.Decrypt(key, tweak, sector));
        CryptographicOperations.ZeroMemory(key);
    }

    [Fact]
    public async Task A_damaged_primary_header_falls_back_to_the_backup()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using (var volume = Volume.Open(path, keys))
        {
            await volume.Device.WriteAsync(0, new byte[] { 42 });
        }

        Corrupt(path, 100);
        var before = Hash(path);
        using (var volume = Volume.Open(path, keys))
        {
            Assert.Contains(volume.Warnings, w => w.Contains("using the backup"));
            var back = new byte[1];
            await volume.Device.ReadAsync(0, back);
            Assert.Equal(42, back[0]);
        }

        Assert.Equal(before, Hash(path)); // opening did not write
    }

    [Fact]
    public void Both_headers_damaged_is_a_clear_error_naming_the_file_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        Corrupt(path, 100);
        Corrupt(path, VolumeHeader.BackupOffset + 200);
        var before = Hash(path);
        var e = Assert.ThrowsAny<VolumeException>(() => Volume.Open(path, keys));
        Assert.Contains(path, e.Message);
        Assert.Contains("both volume headers are unusable", e.Message);
        Assert.Equal(before, Hash(path));
    }

    [Fact]
    public void A_file_that_is_not_a_volume_is_refused()
    {
        using var dir = new TempDirectory();
        var path = dir.File("random.img");
        File.WriteAllBytes(path, RandomBytes(2 << 20, 3));
        var e = Assert.ThrowsAny<VolumeException>(() => Volume.Open(path, new TestKeyProvider(dir.File("none"))));
        Assert.Contains("is not a BlockSim volume", e.Message);
    }

    [Fact]
    public void A_newer_format_version_is_refused_with_advice()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        foreach (var at in new[] { VolumeHeader.PrimaryOffset, VolumeHeader.BackupOffset })
        {
            RewriteHeader(path, at, header => BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 2));
        }

        var e = Assert.ThrowsAny<VolumeException>(() => Volume.Open(path, keys));
        Assert.Contains("newer than this blocksim understands", e.Message);
    }

    [Fact]
    public void A_file_shorter_than_its_header_describes_is_refused()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, VolumeHeader.DataOffset + Capacity - 4096);
        }

        var e = Assert.ThrowsAny<VolumeException>(() => Volume.Open(path, keys));
        Assert.Contains("truncated outside blocksim", e.Message);
    }

    [Fact]
    public async Task Growing_keeps_the_data_and_adds_zeros_and_shrinking_then_growing_forgets_the_cut_part()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        var head = RandomBytes(8192, 2);
        var tail = RandomBytes(8192, 3);
        using (var volume = Volume.Open(path, keys))
        {
            await volume.Device.WriteAsync(0, head);
            await volume.Device.WriteAsync(Capacity - tail.Length, tail);
            await volume.Device.FlushAsync();
        }

        Assert.Equal(2 * Capacity, Volume.Resize(path, 2 * Capacity).Capacity);
        using (var volume = Volume.Open(path, keys))
        {
            Assert.Equal(2 * Capacity, volume.Device.Capacity);
            Assert.Empty(volume.Warnings);
            Assert.Equal(head, await ReadAsync(volume, 0, head.Length));
            Assert.Equal(tail, await ReadAsync(volume, Capacity - tail.Length, tail.Length));
            Assert.Equal(new byte[65536], await ReadAsync(volume, Capacity, 65536));
        }

        Volume.Resize(path, Capacity / 2);
        Volume.Resize(path, Capacity);
        Assert.Equal(VolumeHeader.DataOffset + Capacity, new FileInfo(path).Length);
        using (var volume = Volume.Open(path, keys))
        {
            Assert.Equal(head, await ReadAsync(volume, 0, head.Length));
            Assert.Equal(new byte[tail.Length], await ReadAsync(volume, Capacity - tail.Length, tail.Length));
        }
    }

    [Fact]
    public void Resizing_refuses_an_open_volume_and_a_size_that_is_not_whole_sectors()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using (Volume.Open(path, keys))
        {
            Assert.Contains("Stop the daemon first", Assert.Throws<VolumeInUseException>(() => Volume.Resize(path, 2 * Capacity)).Message);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Volume.Resize(path, Capacity + 512));
        Assert.Equal(Capacity, Volume.ReadHeader(path).Header.Capacity);
    }

    [Fact]
    public void A_grow_interrupted_before_the_header_was_written_opens_with_a_warning()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, VolumeHeader.DataOffset + 2 * Capacity); // the first step of a grow
        }

        using var volume = Volume.Open(path, keys);
        Assert.Equal(Capacity, volume.Device.Capacity);
        Assert.Contains(volume.Warnings, w => w.Contains("interrupted resize", StringComparison.Ordinal));
    }

    private static async Task<byte[]> ReadAsync(Volume volume, long offset, int length)
    {
        var bytes = new byte[length];
        await volume.Device.ReadAsync(offset, bytes);
        return bytes;
    }

    [Fact]
    public void The_wrong_master_key_is_refused_without_revealing_keys()
    {
        using var dir = new TempDirectory();
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, TestKeyProvider.OpenOrCreate(dir.File("a.key")));
        var e = Assert.Throws<VolumeKeyException>(() => Volume.Open(path, TestKeyProvider.OpenOrCreate(dir.File("b.key"))));
        Assert.Contains("does not unwrap", e.Message);
    }

    [Fact]
    public void A_second_writer_is_locked_out_and_existing_files_are_never_overwritten()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        Assert.ThrowsAny<IOException>(() => Volume.Create(path, Capacity, keys));
        using var first = Volume.Open(path, keys);
        var e = Assert.Throws<VolumeInUseException>(() => Volume.Open(path, keys));
        Assert.Contains("another blocksim", e.Message);
    }

    [Fact]
    public void A_held_volume_file_keeps_its_header_from_changing_until_it_is_disposed()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using (var held = HeldVolume.Open(path))
        {
            Assert.Equal(Capacity, held.Header.Capacity);
            var resize = Assert.Throws<VolumeInUseException>(() => Volume.Resize(path, Capacity / 2));
            Assert.Equal(path, resize.FilePath);
            Assert.Contains("a running blocksim daemon", resize.Message);
            Assert.Throws<VolumeInUseException>(() => Volume.Rewrap(path, header => throw new InvalidOperationException("never asked")));
            Assert.Throws<VolumeInUseException>(() => Volume.Delete(path));
            Assert.Throws<VolumeInUseException>(() => Volume.Preallocate(path));
            Assert.Throws<VolumeInUseException>(() => HeldVolume.Open(path));
            Assert.Throws<VolumeInUseException>(() => HeldVolume.Open(path, readOnly: true));
            Assert.Equal(Capacity, Volume.ReadHeader(path).Header.Capacity); // reading the header needs no lock
        }

        Assert.Equal(Capacity / 2, Volume.Resize(path, Capacity / 2).Capacity);
    }

    [Fact]
    public async Task Read_only_holders_share_the_file_and_keep_writers_out()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        using var first = HeldVolume.Open(path, readOnly: true);
        using var second = HeldVolume.Open(path, readOnly: true);
        Assert.Throws<VolumeInUseException>(() => Volume.Resize(path, 2 * Capacity));
        Assert.Throws<VolumeInUseException>(() => HeldVolume.Open(path));
        using var volume = second.Unlock(keys);
        Assert.True(volume.Device.IsReadOnly);
        Assert.Equal(new byte[512], await ReadAsync(volume, 0, 512));
        Assert.Throws<InvalidOperationException>(() => second.Unlock(keys)); // one device per held file
    }

    [Fact]
    public void A_volume_file_that_is_not_a_file_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("d.vol"));
        Assert.Contains("is a directory", Assert.Throws<VolumeException>(() => HeldVolume.Open(dir.File("d.vol"))).Message);
        Assert.Contains("no such volume file", Assert.Throws<VolumeException>(() => HeldVolume.Open(dir.File("none.vol"))).Message);
    }

    [Fact]
    public void Volume_and_key_files_are_private_to_their_owner()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        Volume.Create(dir.File("v.vol"), Capacity, keys);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.File("dev.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.File("v.vol")));
    }

    internal static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static void Corrupt(string path, long offset)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var b = new byte[1];
        RandomAccess.Read(file, b, offset);
        b[0] ^= 0x01;
        RandomAccess.Write(file, b, offset);
    }

    private static void RewriteHeader(string path, long at, Action<byte[]> change)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var header = new byte[VolumeHeader.Size];
        RandomAccess.Read(file, header, at);
        change(header);
        SHA256.HashData(header.AsSpan(0, VolumeHeader.Size - 32), header.AsSpan(VolumeHeader.Size - 32));
        RandomAccess.Write(file, header, at);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
