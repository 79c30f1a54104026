using System.Buffers.Binary;
using System.Diagnostics;
using BlockSim.Crypto;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Devices;
using Xunit.Abstractions;

namespace BlockSim.Nbd.Tests;

[CollectionDefinition("soak", DisableParallelization = true)]
public sealed class SoakCollection;

/// <summary>
/// A bounded soak on loopback: clients connect and disconnect over and over against two exports at once (a
/// memory export and an encrypted one), each doing mixed I/O on its own region with every read verified;
/// some vanish in the middle of a request. At the end nothing leaks: no connection, no rented payload buffer,
/// no file descriptor or thread beyond a small slack, and the managed heap is back where it was.
/// Duration: BLOCKSIM_SOAK_SECONDS (default 15; the longer documented run in RELIABILITY.md uses more).
/// </summary>
[Collection("soak")]
public class SoakTests(ITestOutputHelper output)
{
    private const int BlockSize = 4096;
    private const int BlocksPerClient = 256;
    private const int Clients = 8;

    [Fact]
    public async Task Connections_come_and_go_data_stays_right_and_nothing_leaks()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_SOAK_SECONDS"), out var s) ? s : 15;
        var key = new byte[64];
        new Random(3).NextBytes(key);
        var encrypted = new BlockDeviceExport("enc", new EncryptedBlockDevice(new MemoryBlockDevice(Clients * BlocksPerClient * BlockSize), new XtsAes256(key), 4096));
        await using var server = new TestServer(null, encrypted);
        var before = Snapshot();

        var clock = Stopwatch.StartNew();
        var totals = new long[4]; // requests, verified reads, sessions, vanished
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            var versions = new Dictionary<string, int[]> { ["mem"] = new int[BlocksPerClient], ["enc"] = new int[BlocksPerClient] };
            while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                var export = random.Next(2) == 0 ? "mem" : "enc";
                if (random.Next(6) == 0)
                {
                    await VanishMidRequestAsync(server, export, c, random);
                    Interlocked.Increment(ref totals[3]);
                    continue;
                }

                await using var client = await server.ConnectAsync(export);
                Interlocked.Increment(ref totals[2]);
                for (var i = random.Next(20, 200); i > 0; i--)
                {
                    var block = random.Next(BlocksPerClient - 1); // the last block is where vanishing writes land
                    var offset = (ulong)((c * BlocksPerClient + block) * BlockSize);
                    var buffer = new byte[BlockSize];
                    if (random.Next(3) == 0)
                    {
                        var version = ++versions[export][block];
                        Fill(buffer, c, block, version);
                        await client.WriteAsync(offset, buffer);
                    }
                    else
                    {
                        await client.ReadAsync(offset, buffer);
                        var expected = new byte[BlockSize];
                        if (versions[export][block] > 0)
                        {
                            Fill(expected, c, block, versions[export][block]);
                        }

                        Assert.True(expected.AsSpan().SequenceEqual(buffer), $"client {c} export {export} block {block}: wrong data");
                        Interlocked.Increment(ref totals[1]);
                    }

                    Interlocked.Increment(ref totals[0]);
                }
            }
        })).ToArray();
        await Task.WhenAll(clients);

        // Everything the server started must end: connections, buffers, descriptors, threads, heap.
        for (var i = 0; i < 200 && (server.Server.ConnectionCount > 0 || server.Server.RentedBuffers > 0); i++)
        {
            await Task.Delay(25);
        }

        var after = Snapshot();
        output.WriteLine($"{seconds} s, {Clients} clients: {totals[0]:N0} requests, {totals[1]:N0} verified reads, {totals[2]:N0} sessions, {totals[3]:N0} vanished mid-request");
        output.WriteLine($"before: {before}; after: {after}");
        Assert.Equal(0, server.Server.ConnectionCount);
        Assert.Equal(0, server.Server.RentedBuffers);
        Assert.Equal(0, server.Server.PayloadBytesHeld);
        Assert.InRange(after.Descriptors, 0, before.Descriptors + 8);
        var data = 2L * Clients * BlocksPerClient * BlockSize; // what the two memory-backed exports now hold
        Assert.InRange(after.HeapBytes, 0, before.HeapBytes + data + (16L << 20));
        Assert.True(totals[3] > 0 && totals[1] > 0);
    }

    /// <summary>Sends a WRITE header and half its payload, then drops the socket.</summary>
    private static async Task VanishMidRequestAsync(TestServer server, string export, int client, Random random)
    {
        await using var raw = await server.RawAsync();
        await raw.GoAsync(export);
        var header = new byte[NbdRequest.Size];
        var offset = (ulong)((client * BlocksPerClient + BlocksPerClient - 1) * BlockSize); // a block the client never verifies
        new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, 1, offset, BlockSize).WriteTo(header);
        await raw.SendAsync([.. header, .. new byte[random.Next(0, BlockSize)]]);
    }

    private static void Fill(byte[] block, int client, int number, int version)
    {
        BinaryPrimitives.WriteInt32LittleEndian(block, client);
        BinaryPrimitives.WriteInt32LittleEndian(block.AsSpan(4), number);
        BinaryPrimitives.WriteInt32LittleEndian(block.AsSpan(8), version);
        new Random(HashCode.Combine(client, number, version)).NextBytes(block.AsSpan(12));
    }

    private static (int Descriptors, long HeapBytes, int Threads) Snapshot()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (Directory.GetFiles("/proc/self/fd").Length, GC.GetTotalMemory(forceFullCollection: true), process.Threads.Count);
    }
}
