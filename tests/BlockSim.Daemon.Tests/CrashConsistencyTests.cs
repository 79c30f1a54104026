using System.Buffers.Binary;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Crash consistency of the real daemon on an encrypted file-backed volume: writers on one connection
/// (FUA on some writes, FLUSH now and then) record what the server acknowledged; the daemon is killed with
/// SIGKILL at a random moment, restarted, and every sector is checked. Each sector must hold one whole
/// version (no torn sector, no version from another sector); every write acknowledged with FUA, or
/// acknowledged before a FLUSH that was itself acknowledged, must be there or overwritten by a later write;
/// the key store and volume header open; the audit chain verifies. Rounds: BLOCKSIM_CRASH_ROUNDS (default 12).
/// </summary>
public class CrashConsistencyTests(ITestOutputHelper output)
{
    private const int SectorSize = 4096;
    private const int Sectors = 2048; // an 8 MiB volume
    private const int Writers = 4;

    [Fact]
    public async Task Acknowledged_flushed_and_fua_writes_survive_sigkill_and_no_sector_is_torn()
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_CRASH_ROUNDS"), out var n) ? n : 12;
        var random = new Random(Environment.TickCount);
        var seed = random.Next();
        output.WriteLine($"seed {seed}, {rounds} rounds");
        random = new Random(seed);
        using var temp = new TempDirectory();
        await using (var create = DaemonProcess.Start(temp.Path, "volume", "create", "crash", "--size", $"{Sectors * SectorSize / 1024}K"))
        {
            Assert.Equal(0, await create.WaitForExitAsync());
        }

        var model = new SectorModel();
        long acknowledged = 0;
        for (var round = 0; round < rounds; round++)
        {
            await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
            var port = await daemon.PortAsync();
            await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "crash" }))
            {
                await model.CheckAsync(client, round); // what the last crash left, before new writes
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, Writers).Select(w => model.WriteLoopAsync(client, w, new Random(random.Next()), stop.Token)).ToList();
                writers.Add(model.FlushLoopAsync(client, new Random(random.Next()), stop.Token));
                await Task.Delay(random.Next(100, 600));
                await daemon.KillAsync(); // SIGKILL, with requests in flight
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }

            acknowledged += model.TakeAcknowledgedCount();
        }

        await using (var last = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", await last.PortAsync(), new NbdClientOptions { ExportName = "crash" });
            await model.CheckAsync(client, rounds);
            Assert.Equal(0, await last.InterruptAsync());
        }

        output.WriteLine($"{acknowledged} acknowledged writes over {rounds} kills; every sector whole and every durable write found");
        Assert.True(acknowledged > rounds, "too few writes were acknowledged for the test to mean anything");
        await using var verify = DaemonProcess.Start(temp.Path, "audit", "verify");
        Assert.Equal(0, await verify.WaitForExitAsync());
        await using var info = DaemonProcess.Start(temp.Path, "volume", "info", "crash");
        Assert.Equal(0, await info.WaitForExitAsync());
    }

    /// <summary>
    /// What may be in each sector. Versions count up per sector; writer w owns the sectors congruent to w,
    /// with one write in flight at a time, so a sector's writes are ordered.
    /// </summary>
    private sealed class SectorModel
    {
        private readonly object _lock = new();
        private readonly int[] _durable = new int[Sectors];     // must be at least this version
        private readonly int[] _latest = new int[Sectors];      // highest version ever sent
        private readonly int[] _acknowledged = new int[Sectors]; // highest version acknowledged (not yet durable)
        private long _acknowledgedCount;

        public long TakeAcknowledgedCount() => Interlocked.Exchange(ref _acknowledgedCount, 0);

        public async Task WriteLoopAsync(NbdClient client, int writer, Random random, CancellationToken stop)
        {
            var buffer = new byte[4 * SectorSize];
            while (!stop.IsCancellationRequested)
            {
                var count = random.Next(1, 5);
                var first = writer + Writers * random.Next((Sectors - Writers * count) / Writers);
                var sectors = Enumerable.Range(0, count).Select(i => first + i * Writers).ToArray();

                // Non-contiguous sectors of one writer: one request per sector, but FUA for the batch.
                var fua = random.Next(5) == 0;
                var versions = new int[count];
                lock (_lock)
                {
                    for (var i = 0; i < count; i++)
                    {
                        versions[i] = ++_latest[sectors[i]];
                    }
                }

                try
                {
                    for (var i = 0; i < count; i++)
                    {
                        Fill(buffer.AsSpan(0, SectorSize), sectors[i], versions[i]);
                        await client.WriteAsync((ulong)sectors[i] * SectorSize, buffer.AsMemory(0, SectorSize), fua ? NbdCommandFlags.Fua : NbdCommandFlags.None);
                        lock (_lock)
                        {
                            _acknowledged[sectors[i]] = versions[i];
                            if (fua)
                            {
                                _durable[sectors[i]] = versions[i];
                            }
                        }

                        Interlocked.Increment(ref _acknowledgedCount);
                    }
                }
                catch (Exception e) when (e is IOException or NbdClientException or ObjectDisposedException or InvalidOperationException)
                {
                    return; // the daemon was killed
                }
            }
        }

        public async Task FlushLoopAsync(NbdClient client, Random random, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(random.Next(5, 40), CancellationToken.None);
                int[] before;
                lock (_lock)
                {
                    before = (int[])_acknowledged.Clone(); // a FLUSH covers what was acknowledged before it was sent
                }

                try
                {
                    await client.FlushAsync();
                }
                catch (Exception e) when (e is IOException or NbdClientException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                lock (_lock)
                {
                    for (var s = 0; s < Sectors; s++)
                    {
                        _durable[s] = Math.Max(_durable[s], before[s]);
                    }
                }
            }
        }

        /// <summary>Reads every sector after a restart and checks it against the model; the result becomes the new base.</summary>
        public async Task CheckAsync(NbdClient client, int round)
        {
            var data = new byte[Sectors * SectorSize];
            for (var offset = 0; offset < data.Length; offset += 1 << 20)
            {
                await client.ReadAsync((ulong)offset, data.AsMemory(offset, 1 << 20));
            }

            var scratch = new byte[SectorSize];
            lock (_lock)
            {
                for (var s = 0; s < Sectors; s++)
                {
                    var sector = data.AsSpan(s * SectorSize, SectorSize);
                    var version = sector.ContainsAnyExcept((byte)0) ? BinaryPrimitives.ReadInt32LittleEndian(sector[8..]) : 0;
                    if (version != 0)
                    {
                        Fill(scratch, s, version);
                        Assert.True(sector.SequenceEqual(scratch), $"round {round}: sector {s} is torn or foreign (header says version {version}, sector {BinaryPrimitives.ReadInt64LittleEndian(sector)})");
                    }

                    Assert.True(version >= _durable[s], $"round {round}: sector {s} holds version {version}, but version {_durable[s]} was acknowledged as durable (FUA or flushed)");
                    Assert.True(version <= _latest[s], $"round {round}: sector {s} holds version {version}, never written (latest {_latest[s]})");
                    _durable[s] = _acknowledged[s] = _latest[s] = version; // the new base; later versions start above it
                }
            }
        }

        private static void Fill(Span<byte> sector, long number, int version)
        {
            BinaryPrimitives.WriteInt64LittleEndian(sector, number);
            BinaryPrimitives.WriteInt32LittleEndian(sector[8..], version);
            for (var i = 12; i < sector.Length; i += 4)
            {
                BinaryPrimitives.WriteInt32LittleEndian(sector[i..], (int)(number * 31 + version * 17 + i));
            }
        }
    }
}
