using System.Diagnostics;
using System.Security.Cryptography;
using BlockSim.Storage.Rbd.Volumes;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using Xunit.Abstractions;

namespace BlockSim.Storage.Rbd.Tests;

/// <summary>Encrypted volumes on RBD images: the volume file's layout, Ceph's lock for one writer, takeover with fencing.</summary>
[Collection(CephCollection.Name)]
public sealed class RbdVolumeTests(CephCluster cluster, ITestOutputHelper log) : IDisposable
{
    private const long Mi = 1L << 20;
    private readonly string _directory = Directory.CreateTempSubdirectory("blocksim-rbd-volume-").FullName;

    private TestKeyProvider Keys => TestKeyProvider.OpenOrCreate(Path.Combine(_directory, "master.key"));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [SkippableFact]
    public async Task A_volume_on_an_image_reads_back_and_only_ciphertext_reaches_rados()
    {
        cluster.Require();
        var location = NewLocation(cluster.Pool);
        Volume.Create(location, 16 * Mi, Keys, owner: "tester");
        Assert.True(location.Exists());

        // A pattern that is easy to find if any of it reaches the objects in clear.
        var pattern = Enumerable.Repeat("BLOCKSIM-PLAINTEXT-"u8.ToArray(), 4096 / 19 + 1).SelectMany(b => b).Take(4096).ToArray();
        using (var volume = Volume.Open(location, Keys))
        {
            Assert.Equal(16 * Mi, volume.Device.Capacity);
            for (var i = 0; i < 64; i++)
            {
                await volume.Device.WriteAsync(i * 64 * 1024L, pattern);
            }

            await volume.Device.FlushAsync();
        }

        using (var volume = Volume.Open(location, Keys, readOnly: true))
        {
            var read = new byte[4096];
            await volume.Device.ReadAsync(63 * 64 * 1024L, read);
            Assert.Equal(pattern, read);
        }

        var (header, _) = Volume.ReadHeader(location);
        Assert.Equal(16 * Mi, header.Capacity);
        Assert.Equal("tester", header.Owner);

        // Every RADOS object of the image, fetched with the rados tool, holds no run of the pattern.
        // The image's data objects are rbd_data.ID.*, with ID from its block_name_prefix.
        var prefix = Rbd("info", $"rbd/{location.Image}").Split('\n').Select(l => l.Trim())
            .First(l => l.StartsWith("block_name_prefix:", StringComparison.Ordinal))["block_name_prefix:".Length..].Trim() + ".";
        var objects = Rados("-p", "rbd", "ls").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var imageObjects = objects.Where(o => o.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        log.WriteLine($"{imageObjects.Count} data objects ({prefix}*) of {objects.Length} objects in the pool");
        Assert.NotEmpty(imageObjects);
        var probe = pattern.AsSpan(0, 16).ToArray();
        foreach (var name in imageObjects)
        {
            var copy = Path.Combine(_directory, "object");
            Rados("-p", "rbd", "get", name, copy);
            var bytes = await File.ReadAllBytesAsync(copy);
            Assert.True(bytes.AsSpan().IndexOf(probe) < 0, $"{name} holds plaintext");
        }
    }

    [SkippableFact]
    public async Task A_second_client_cannot_write_and_is_told_who_holds_it_then_takes_it_over_and_fences_the_first()
    {
        cluster.Require();
        using var first = cluster.Connect();
        using var firstPool = first.OpenPool("rbd");
        using var second = cluster.Connect();
        using var secondPool = second.OpenPool("rbd");
        var mine = NewLocation(firstPool);
        var theirs = new RbdVolumeLocation(secondPool, mine.Image);
        Volume.Create(mine, 8 * Mi, Keys);

        var served = Volume.Open(mine, Keys);
        var acknowledged = RandomNumberGenerator.GetBytes(8192);
        await served.Device.WriteAsync(Mi, acknowledged);
        await served.Device.FlushAsync();

        var refused = Assert.Throws<VolumeInUseException>(() => HeldVolume.Open(theirs));
        log.WriteLine(refused.Message);
        Assert.Contains(mine.Name, refused.Message, StringComparison.Ordinal);
        Assert.Contains("blocksim volume takeover", refused.Message, StringComparison.Ordinal);
        var holder = Assert.Single(refused.Holders);
        Assert.Contains(holder, refused.Message, StringComparison.Ordinal);
        Assert.Equal(holder, Assert.Single(theirs.LockHolders()));
        Assert.Throws<VolumeInUseException>(() => Volume.Resize(theirs, 16 * Mi));
        Assert.Throws<VolumeInUseException>(() => Volume.Delete(theirs));
        Assert.Equal(8 * Mi, Volume.ReadHeader(theirs).Header.Capacity); // reading needs no lock

        Assert.Equal(holder, Assert.Single(theirs.TakeOver()));
        using (var successor = Volume.Open(theirs, Keys))
        {
            var read = new byte[acknowledged.Length];
            await successor.Device.ReadAsync(Mi, read);
            Assert.Equal(acknowledged, read);
            await successor.Device.WriteAsync(0, new byte[4096]);
            await successor.Device.FlushAsync();

            // The first holder, fenced, cannot write any more: its writes fail rather than land.
            IOException? fenced = null;
            for (var attempt = 0; attempt < 50 && fenced is null; attempt++)
            {
                try
                {
                    await served.Device.WriteAsync(2 * Mi, new byte[4096]).AsTask().WaitAsync(TimeSpan.FromSeconds(40));
                    await served.Device.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(40));
                    await Task.Delay(100);
                }
                catch (IOException e)
                {
                    fenced = e;
                }
            }

            Assert.NotNull(fenced);
            log.WriteLine(fenced.Message);
            var after = new byte[4096];
            await successor.Device.ReadAsync(2 * Mi, after);
            Assert.All(after, b => Assert.Equal(0, b));
        }

        await Task.Run(served.Dispose).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [SkippableFact]
    public async Task Rbd_export_gives_a_volume_file_and_rbd_import_of_one_gives_an_rbd_volume()
    {
        cluster.Require();
        var location = NewLocation(cluster.Pool);
        Volume.Create(location, 4 * Mi, Keys);
        var data = RandomNumberGenerator.GetBytes(3 * 4096);
        using (var volume = Volume.Open(location, Keys))
        {
            await volume.Device.WriteAsync(12288, data);
            await volume.Device.FlushAsync();
        }

        var file = Path.Combine(_directory, "exported.vol");
        Rbd("export", $"rbd/{location.Image}", file);
        using (var volume = Volume.Open(file, Keys, readOnly: true))
        {
            Assert.Equal(Volume.ReadHeader(location).Header.VolumeId, volume.Header.VolumeId);
            var read = new byte[data.Length];
            await volume.Device.ReadAsync(12288, read);
            Assert.Equal(data, read);
        }

        var made = Path.Combine(_directory, "made.vol");
        Volume.Create(made, 2 * Mi, Keys);
        using (var volume = Volume.Open(made, Keys))
        {
            await volume.Device.WriteAsync(4096, data);
            await volume.Device.FlushAsync();
        }

        var imported = NewLocation(cluster.Pool);
        Rbd("import", made, $"rbd/{imported.Image}");
        using (var volume = Volume.Open(imported, Keys))
        {
            Assert.Equal(Volume.ReadHeader(made).Header.VolumeId, volume.Header.VolumeId);
            var read = new byte[data.Length];
            await volume.Device.ReadAsync(4096, read);
            Assert.Equal(data, read);
        }
    }

    [SkippableFact]
    public async Task Resize_grows_the_image_and_delete_removes_it_and_create_refuses_an_existing_one()
    {
        cluster.Require();
        var location = NewLocation(cluster.Pool);
        Volume.Create(location, 4 * Mi, Keys);
        var refused = Assert.Throws<VolumeException>(() => Volume.Create(location, 4 * Mi, Keys));
        Assert.Contains("already exists", refused.Message, StringComparison.Ordinal);

        Volume.Resize(location, 12 * Mi);
        using (var volume = Volume.Open(location, Keys))
        {
            Assert.Equal(12 * Mi, volume.Device.Capacity);
            await volume.Device.WriteAsync(11 * Mi, new byte[4096]);
        }

        Volume.Resize(location, 6 * Mi);
        Assert.Equal(6 * Mi, Volume.ReadHeader(location).Header.Capacity);
        Volume.Delete(location);
        Assert.False(location.Exists());
        var gone = Assert.Throws<VolumeException>(() => Volume.ReadHeader(location));
        Assert.Contains("no such volume", gone.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void An_image_that_is_not_a_volume_is_refused_as_such()
    {
        cluster.Require();
        var image = cluster.CreateImage(4 * Mi);
        var problem = Assert.Throws<VolumeDamagedException>(() => HeldVolume.Open(new RbdVolumeLocation(cluster.Pool, image)));
        Assert.Contains("is not a BlockSim volume", problem.Message, StringComparison.Ordinal);
        Assert.Contains($"rbd:rbd/{image}", problem.Message, StringComparison.Ordinal);
    }

    private RbdVolumeLocation NewLocation(RbdPool pool) => new(pool, $"vol-{Guid.NewGuid():N}"[..20]);

    private string Rados(params string[] arguments) => Tool("rados", arguments);

    private string Rbd(params string[] arguments) => Tool("rbd", arguments);

    private string Tool(string tool, string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(cluster.ConfigurationPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"{tool} {string.Join(' ', arguments)} did not finish");
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)}: exit {process.ExitCode}: {error.Result}");
        return output.Result;
    }
}
