using System.Diagnostics;
using System.Text.Json;
using BlockSim.KeyStore.Etcd;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// A store on a three-member etcd of its own while members die: nothing acknowledged is lost, requests fail
/// closed without quorum, and the same store object works again once quorum is back, with no restart.
/// </summary>
public sealed class EtcdFaultTests
{
    [SkippableFact]
    public void Killing_the_leader_loses_nothing_acknowledged_and_without_quorum_requests_fail_closed_until_it_returns()
    {
        using var etcd = EtcdCluster.WithMembers(3);
        using var f = new StoreFixture(etcd);
        var address = EtcdStoreAddress.Parse(f.Store.Location);
        var acknowledged = new List<string>();
        var failures = new List<string>();
        var stop = false;
        var writer = new Thread(() =>
        {
            for (var i = 0; !Volatile.Read(ref stop); i++)
            {
                try
                {
                    f.Store.CreateKey("written while members die", StoreFixture.Admin, $"alias/during-{i}");
                    lock (acknowledged)
                    {
                        acknowledged.Add($"alias/during-{i}");
                    }
                }
                catch (KeyStoreException e)
                {
                    lock (acknowledged)
                    {
                        failures.Add($"{e.ErrorCode}: {e.Message}");
                    }
                }
            }
        });
        writer.Start();
        WaitForAcknowledged(acknowledged, 10);
        var leader = Leader(etcd, address);
        etcd.Kill(leader); // kill -9 of the leader in the middle of the stream
        var atKill = Count(acknowledged);
        WaitForAcknowledged(acknowledged, atKill + 10); // the other two elect a leader and the stream goes on
        Volatile.Write(ref stop, true);
        writer.Join();

        // Every acknowledged change is there, and the chain verifies (requests cut off by the kill are notes, not problems).
        var present = f.Reopen().ListKeys(StoreFixture.Admin).SelectMany(k => k.Aliases).ToHashSet();
        Assert.All(acknowledged, alias => Assert.Contains(alias, present));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);

        // Two of three down: no quorum. Key operations fail closed with a clear error...
        etcd.Kill(Enumerable.Range(0, 3).First(i => i != leader));
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.CreateKey("without quorum", StoreFixture.Admin, "alias/no-quorum"));
        Assert.Equal(KeyStoreErrors.StoreUnavailable, e.ErrorCode);
        Assert.Contains(address.ToString(), e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"failing closed took {clock.Elapsed}");

        // ...and work again on the same store object once a member is back.
        etcd.Restart(leader);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                f.Store.CreateKey("after quorum came back", StoreFixture.Admin, "alias/after");
                break;
            }
            catch (KeyStoreException again) when (again.ErrorCode == KeyStoreErrors.StoreUnavailable && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }

        Assert.Contains("alias/after", f.Store.ListKeys(StoreFixture.Admin).SelectMany(k => k.Aliases));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    private static int Count(List<string> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static void WaitForAcknowledged(List<string> acknowledged, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Count(acknowledged) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {Count(acknowledged)} of {count} changes were acknowledged within 60 s");
            Thread.Sleep(20);
        }
    }

    /// <summary>The index of the member etcd says leads, from etcdctl endpoint status.</summary>
    private static int Leader(EtcdCluster etcd, EtcdStoreAddress address)
    {
        var statuses = JsonDocument.Parse(EtcdCluster.Etcdctl(address, "endpoint", "status", "--write-out=json")).RootElement.EnumerateArray().ToList();
        var leader = statuses[0].GetProperty("Status").GetProperty("leader").GetUInt64();
        var index = statuses.FindIndex(s => s.GetProperty("Status").GetProperty("header").GetProperty("member_id").GetUInt64() == leader);
        Assert.True(index >= 0 && index < etcd.Members, "no member of the cluster says it leads");
        return index;
    }
}
