using BlockSim.Storage.Volumes;
using CsCheck;

namespace BlockSim.Storage.Tests;

/// <summary>
/// Randomly damaged volume files: bit flips and junk in one or both header copies, huge length fields,
/// truncation. Opening either works (from the backup, with a warning) or fails with a VolumeException that
/// names the file, never another exception; and opening never writes, so the damage is not spread.
/// </summary>
public class HeaderFuzzTests
{
    private static readonly long s_iterations = long.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_FUZZ_ITERATIONS"), out var n) ? Math.Max(1, n / 10) : 300;

    [Fact]
    public void A_damaged_volume_file_opens_from_the_backup_or_is_refused_clearly()
    {
        using var dir = new TempDirectory();
        var keys = TestKeyProvider.OpenOrCreate(dir.File("dev.key"));
        var path = dir.File("v.vol");
        Volume.Create(path, 1 << 20, keys);
        var good = File.ReadAllBytes(path);
        var damage = Gen.OneOf(
            Gen.Select(Gen.Int[0, VolumeHeader.Size - 1], Gen.Int[0, 7], Gen.Bool, (at, bit, both) => (Action<byte[]>)(b =>
            {
                b[at] ^= (byte)(1 << bit);
                if (both)
                {
                    b[VolumeHeader.BackupOffset + at] ^= (byte)(1 << bit);
                }
            })),
            Gen.Select(Gen.Int[0, VolumeHeader.Size - 8], Gen.UInt, (at, value) => (Action<byte[]>)(b => BitConverter.TryWriteBytes(b.AsSpan(at), value))),
            Gen.Select(Gen.Int[0, VolumeHeader.Size - 1], Gen.Byte.Array[1, 64], (at, junk) => (Action<byte[]>)(b => junk.AsSpan(0, Math.Min(junk.Length, VolumeHeader.Size - at)).CopyTo(b.AsSpan(at)))));
        var length = Gen.Frequency((4, Gen.Const(good.Length)), (1, Gen.Int[0, good.Length]));
        Gen.Select(damage, length).Sample(
            sample =>
            {
                var (change, keep) = sample;
                var bytes = (byte[])good.Clone();
                change(bytes);
                File.WriteAllBytes(path, bytes[..keep]);
                try
                {
                    using var volume = Volume.Open(path, keys);
                    Assert.Equal(1 << 20, volume.Device.Capacity);
                }
                catch (VolumeException e)
                {
                    Assert.Contains(path, e.Message);
                }

                Assert.Equal(bytes[..keep], File.ReadAllBytes(path)); // opening never writes
            },
            iter: s_iterations,
            threads: 1);
    }
}
