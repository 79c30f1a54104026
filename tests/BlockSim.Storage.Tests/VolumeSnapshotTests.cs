using System.Diagnostics;
using System.Security.Cryptography;
using BlockSim.Storage.Native;
using BlockSim.Storage.Volumes;
using Xunit.Abstractions;

namespace BlockSim.Storage.Tests;

/// <summary>
/// Snapshots and rollback of closed volumes: the copy is the volume (it opens with the same key), holes stay
/// holes, the copy method is the one the file system allows, and every refusal leaves every file as it was.
/// </summary>
public class VolumeSnapshotTests(ITestOutputHelper output)
{
    private const long Capacity = 32L << 20;

    [Fact]
    public async Task Rollback_brings_back_the_data_as_it_was_at_the_snapshot_and_keeps_the_snapshot()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        var snapshot = Path.Combine(dir.Path, "snapshots", "v@one.vol");
        Volume.Create(path, Capacity, keys);
        var before = VolumeTests.RandomBytes(200_000, 1);
        var after = VolumeTests.RandomBytes(200_000, 2);
        await WriteAsync(path, keys, 4096 * 3, before);

        VolumeSnapshot.Create(path, snapshot);
        await WriteAsync(path, keys, 4096 * 3, after);
        await WriteAsync(path, keys, Capacity - 8192, after.AsMemory(0, 8192)); // where the snapshot holds a hole
        Assert.Equal(after, await ReadAsync(path, keys, 4096 * 3, after.Length));

        var rolled = VolumeSnapshot.Rollback(path, snapshot);
        Assert.False(rolled.KeptCurrentKeyWrapping);
        Assert.False(rolled.KeptReservation);
        Assert.Equal(before, await ReadAsync(path, keys, 4096 * 3, before.Length)); // decrypted with the volume's key
        Assert.Equal(new byte[8192], await ReadAsync(path, keys, Capacity - 8192, 8192));
        Assert.Equal(before, await ReadAsync(snapshot, keys, 4096 * 3, before.Length)); // the snapshot is a volume file of its own

        Assert.True(File.Exists(snapshot));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(snapshot));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(snapshot)!));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories)); // every temporary file was renamed into place
    }

    [Fact]
    public async Task A_snapshot_of_a_sparse_1_GiB_volume_takes_about_the_space_of_its_data()
    {
        const long Big = 1L << 30;
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("big.vol");
        var snapshot = dir.File("big@sparse.vol");
        Volume.Create(path, Big, keys);
        var chunk = VolumeTests.RandomBytes(1 << 20, 3);
        long[] offsets = [0, 300L << 20, 700L << 20, Big - (1 << 20)];
        foreach (var offset in offsets)
        {
            await WriteAsync(path, keys, offset, chunk);
        }

        var written = offsets.Length * (long)chunk.Length;
        var clock = Stopwatch.StartNew();
        var report = VolumeSnapshot.Create(path, snapshot);
        clock.Stop();

        var allocated = LibC.AllocatedBytes(snapshot);
        output.WriteLine($"1 GiB volume, {written} bytes written: snapshot by {report.Method} ({report.ReflinkRefusal}) in {clock.Elapsed.TotalMilliseconds:0.0} ms, {report.BytesWritten} bytes copied, {allocated} bytes allocated (volume: {LibC.AllocatedBytes(path)})");
        Assert.Equal(new FileInfo(path).Length, new FileInfo(snapshot).Length);
        Assert.InRange(allocated, written, written + (1 << 20)); // the data, the headers, a little metadata
        if (report.Method == FileCopyMethod.SparseCopy)
        {
            Assert.InRange(report.BytesWritten, written, written + (128 << 10));
        }

        foreach (var offset in offsets)
        {
            Assert.Equal(chunk, await ReadAsync(snapshot, keys, offset, chunk.Length));
        }

        Assert.Equal(new byte[1 << 20], await ReadAsync(snapshot, keys, 500L << 20, 1 << 20));
    }

    /// <summary>
    /// Checked against coreutils: <c>cp --reflink=always</c> succeeds exactly where FICLONE works. Here /tmp
    /// and /dev/shm (ext4, tmpfs) take the fallback; a folder on btrfs or XFS in BLOCKSIM_TEST_REFLINK_DIR
    /// takes the reflink, and the copies must be the same either way.
    /// </summary>
    [Fact]
    public void The_copy_is_a_reflink_exactly_where_the_file_system_can_clone_and_otherwise_a_sparse_copy()
    {
        var places = new List<string> { Path.GetTempPath() };
        if (Directory.Exists("/dev/shm"))
        {
            places.Add("/dev/shm");
        }

        if (Environment.GetEnvironmentVariable("BLOCKSIM_TEST_REFLINK_DIR") is { Length: > 0 } reflinkDir)
        {
            places.Add(reflinkDir);
        }

        foreach (var place in places)
        {
            var dir = Directory.CreateDirectory(Path.Combine(place, $"blocksim-snapshot-{Guid.NewGuid():N}")).FullName;
            try
            {
                var source = Path.Combine(dir, "source");
                MakeSparseFile(source);
                var expected = CpCanReflink(source, Path.Combine(dir, "probe")) ? FileCopyMethod.Reflink : FileCopyMethod.SparseCopy;
                var report = CopyTo(source, Path.Combine(dir, "copy"), tryReflink: true);
                output.WriteLine($"{place}: {report.Method} ({report.ReflinkRefusal ?? "cloned"})");
                Assert.Equal(expected, report.Method);
                Assert.Equal(expected == FileCopyMethod.SparseCopy, report.ReflinkRefusal?.Contains("errno", StringComparison.Ordinal) ?? false); // tried, and refused
                Assert.Equal(Hash(source), Hash(Path.Combine(dir, "copy")));
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void A_sparse_copy_writes_only_the_data_and_keeps_every_hole()
    {
        using var dir = new TempDirectory();
        var source = dir.File("source");
        var copy = dir.File("copy");
        MakeSparseFile(source);

        var report = CopyTo(source, copy, tryReflink: false);
        Assert.Equal(FileCopyMethod.SparseCopy, report.Method);
        Assert.Equal("not tried", report.ReflinkRefusal);
        Assert.Equal(3 * 65536 + 5000, report.BytesWritten); // the three data runs; the file ends in one
        Assert.Equal(Hash(source), Hash(copy));
        Assert.Equal(DataRuns(source), DataRuns(copy));
        Assert.True(LibC.AllocatedBytes(copy) <= LibC.AllocatedBytes(source), $"the copy takes {LibC.AllocatedBytes(copy)} bytes, the source {LibC.AllocatedBytes(source)}");
    }

    [Fact]
    public async Task A_preallocated_volume_stays_reserved_after_a_rollback()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        Volume.Preallocate(path);
        var data = VolumeTests.RandomBytes(65536, 6);
        await WriteAsync(path, keys, 1 << 20, data);
        VolumeSnapshot.Create(path, dir.File("v@s.vol"));
        await WriteAsync(path, keys, 1 << 20, VolumeTests.RandomBytes(65536, 7));

        var rolled = VolumeSnapshot.Rollback(path, dir.File("v@s.vol"));
        Assert.True(rolled.KeptReservation);
        Assert.True(LibC.AllocatedBytes(path) >= Capacity, $"only {LibC.AllocatedBytes(path)} of {Capacity} bytes are reserved after the rollback");
        Assert.Equal(data, await ReadAsync(path, keys, 1 << 20, data.Length));
        Assert.Equal(new byte[65536], await ReadAsync(path, keys, 8 << 20, 65536)); // reserved, and still zeros

        Volume.Create(dir.File("sparse.vol"), Capacity, keys); // a sparse volume stays sparse
        VolumeSnapshot.Create(dir.File("sparse.vol"), dir.File("sparse@s.vol"));
        Assert.False(VolumeSnapshot.Rollback(dir.File("sparse.vol"), dir.File("sparse@s.vol")).KeptReservation);
        Assert.True(LibC.AllocatedBytes(dir.File("sparse.vol")) < 1 << 20);
    }

    [Fact]
    public void Temporary_files_a_crash_left_behind_are_removed_by_the_next_copy_and_one_being_written_is_not()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        string Leftover(string file) => dir.File($".{file}.{Guid.NewGuid():N}.tmp");
        var staleSnapshot = Leftover("v@s.vol");
        var staleVolume = Leftover("v.vol");
        var held = Leftover("v.vol");
        var otherVolume = Leftover("w.vol");
        foreach (var file in new[] { staleSnapshot, staleVolume, held, otherVolume })
        {
            File.WriteAllBytes(file, new byte[4096]);
        }

        using (File.Open(held, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) // locked, as a copy in progress holds it
        {
            VolumeSnapshot.Create(path, dir.File("v@s.vol"));
            Assert.False(File.Exists(staleSnapshot));
            Assert.True(File.Exists(staleVolume)); // not the snapshot's
            VolumeSnapshot.Rollback(path, dir.File("v@s.vol"));
        }

        Assert.False(File.Exists(staleVolume));
        Assert.True(File.Exists(held));
        Assert.True(File.Exists(otherVolume)); // another volume's
    }

    [Fact]
    public void An_open_volume_is_neither_snapshotted_nor_rolled_back()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        var snapshot = dir.File("v@s.vol");
        Volume.Create(path, Capacity, keys);
        VolumeSnapshot.Create(path, snapshot);
        var volumeHash = Hash(path);
        using (Volume.Open(path, keys, readOnly: true)) // even a reader: as for resize, only a closed volume
        {
            Assert.Contains("Stop the daemon first", Assert.Throws<VolumeInUseException>(() => VolumeSnapshot.Create(path, dir.File("v@t.vol"))).Message);
            Assert.Contains("Stop the daemon first", Assert.Throws<VolumeInUseException>(() => VolumeSnapshot.Rollback(path, snapshot)).Message);
        }

        Assert.False(File.Exists(dir.File("v@t.vol")));
        Assert.Equal(volumeHash, Hash(path));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void A_snapshot_of_another_volume_is_refused_and_nothing_changes()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        Volume.Create(dir.File("a.vol"), Capacity, keys);
        Volume.Create(dir.File("b.vol"), Capacity, keys);
        VolumeSnapshot.Create(dir.File("b.vol"), dir.File("b@s.vol"));
        var volumeHash = Hash(dir.File("a.vol"));

        var e = Assert.Throws<SnapshotMismatchException>(() => VolumeSnapshot.Rollback(dir.File("a.vol"), dir.File("b@s.vol")));
        Assert.Contains(Volume.ReadHeader(dir.File("b.vol")).Header.VolumeId.ToString(), e.Message);
        Assert.Contains(Volume.ReadHeader(dir.File("a.vol")).Header.VolumeId.ToString(), e.Message);
        Assert.Contains("nothing was changed", e.Message);
        Assert.Equal(volumeHash, Hash(dir.File("a.vol")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public async Task An_existing_snapshot_is_never_overwritten()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        VolumeSnapshot.Create(path, dir.File("v@s.vol"));
        var snapshotHash = Hash(dir.File("v@s.vol"));
        await WriteAsync(path, keys, 0, VolumeTests.RandomBytes(4096, 4));

        Assert.Throws<SnapshotExistsException>(() => VolumeSnapshot.Create(path, dir.File("v@s.vol")));
        Assert.Equal(snapshotHash, Hash(dir.File("v@s.vol")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void A_volume_whose_headers_are_both_damaged_is_not_rolled_back_blindly()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        VolumeSnapshot.Create(path, dir.File("v@s.vol"));
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, new byte[8], VolumeHeader.PrimaryOffset);
            RandomAccess.Write(file, new byte[8], VolumeHeader.BackupOffset);
        }

        var volumeHash = Hash(path);
        var e = Assert.Throws<VolumeDamagedException>(() => VolumeSnapshot.Rollback(path, dir.File("v@s.vol")));
        Assert.Contains("cannot be checked", e.Message);
        Assert.Contains("cp --sparse=always", e.Message);
        Assert.Equal(volumeHash, Hash(path));
    }

    [Fact]
    public void Inspect_reports_the_volume_id_capacity_creation_time_and_allocation_and_delete_removes_the_file()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, Capacity, keys);
        var start = DateTime.UtcNow;
        VolumeSnapshot.Create(path, dir.File("v@s.vol"));

        var info = VolumeSnapshot.Inspect(dir.File("v@s.vol"));
        Assert.Equal(Volume.ReadHeader(path).Header.VolumeId, info.VolumeId);
        Assert.Equal(Capacity, info.Capacity);
        Assert.InRange(info.CreatedUtc, start.AddSeconds(-1), DateTime.UtcNow);
        Assert.Equal(DateTimeKind.Utc, info.CreatedUtc.Kind);
        Assert.InRange(info.AllocatedBytes, 2 * VolumeHeader.Size, 1 << 20); // the two headers, not 32 MiB

        using (HeldVolume.Open(dir.File("v@s.vol"), readOnly: true)) // as a rollback reading it holds it
        {
            Assert.Throws<VolumeInUseException>(() => VolumeSnapshot.Delete(dir.File("v@s.vol")));
        }

        VolumeSnapshot.Delete(dir.File("v@s.vol"));
        Assert.False(File.Exists(dir.File("v@s.vol")));
        Assert.True(File.Exists(path));
    }

    /// <summary>Data runs at 0 (the first 64 KiB), 1 MiB and 5 MiB, and 5000 bytes that end the 9 MiB file; holes between.</summary>
    private static void MakeSparseFile(string path)
    {
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.SetLength(file, (9L << 20) + 5000);
        var run = VolumeTests.RandomBytes(65536, 5);
        foreach (var at in new[] { 0L, 1L << 20, 5L << 20 })
        {
            RandomAccess.Write(file, run, at);
        }

        RandomAccess.Write(file, run.AsSpan(0, 5000), 9L << 20);
        RandomAccess.FlushToDisk(file);
    }

    private static FileCopyReport CopyTo(string source, string target, bool tryReflink)
    {
        using var from = File.OpenHandle(source);
        using var to = File.OpenHandle(target, FileMode.CreateNew, FileAccess.ReadWrite);
        return FileCopy.Copy(from, to, tryReflink);
    }

    /// <summary>Where the file has data, as SEEK_DATA/SEEK_HOLE report it.</summary>
    private static List<(long, long)> DataRuns(string path)
    {
        using var file = File.OpenHandle(path);
        var fd = file.DangerousGetHandle();
        var runs = new List<(long, long)>();
        for (long at = 0; (at = LibC.lseek(fd, at, LibC.SeekData)) >= 0;)
        {
            var end = LibC.lseek(fd, at, LibC.SeekHole);
            runs.Add((at, end));
            at = end;
        }

        return runs;
    }

    private static bool CpCanReflink(string source, string target)
    {
        using var cp = Process.Start(new ProcessStartInfo("cp", ["--reflink=always", source, target]) { RedirectStandardError = true })!;
        cp.WaitForExit();
        return cp.ExitCode == 0;
    }

    private static async Task WriteAsync(string path, IVolumeKeyProvider keys, long offset, ReadOnlyMemory<byte> data)
    {
        using var volume = Volume.Open(path, keys);
        await volume.Device.WriteAsync(offset, data);
        await volume.Device.FlushAsync();
    }

    private static async Task<byte[]> ReadAsync(string path, IVolumeKeyProvider keys, long offset, int length)
    {
        using var volume = Volume.Open(path, keys, readOnly: true);
        var bytes = new byte[length];
        await volume.Device.ReadAsync(offset, bytes);
        return bytes;
    }

    private static string Hash(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
