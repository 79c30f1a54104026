using System.Collections.Concurrent;
using System.Text.Json;
using BlockSim.KeyStore.Etcd;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>What only a store in etcd has to prove: one state for several writers, tampering seen through etcdctl, failing closed.</summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdStoreTests(EtcdCluster etcd)
{
    [SkippableFact]
    public void Changes_through_etcdctl_to_the_store_or_an_audit_record_are_detected()
    {
        using var f = new StoreFixture(etcd);
        f.Store.CreateKey("k", StoreFixture.Admin, "alias/k");
        f.Store.CreateKey("l", StoreFixture.Admin, "alias/l");
        var address = EtcdStoreAddress.Parse(f.Store.Location);

        // An audit record edited in place: its HMAC no longer matches.
        var recordKey = address.AuditRecordKey(2);
        var record = Etcdctl("get", recordKey, "--print-value-only").Trim();
        Etcdctl("put", recordKey, record.Replace("CreateKey", "CreateKez", StringComparison.Ordinal));
        var problems = f.Store.VerifyAuditLog().Problems;
        Assert.Contains(problems, p => p.Contains("record 2", StringComparison.Ordinal) && p.Contains("HMAC", StringComparison.Ordinal));

        // A record removed: the chain breaks after it.
        Etcdctl("put", recordKey, record);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        Etcdctl("del", recordKey);
        Assert.Contains(f.Store.VerifyAuditLog().Problems, p => p.Contains("sequence 3 where 2 was expected", StringComparison.Ordinal));
        Etcdctl("put", recordKey, record);

        // The store's body edited (an alias renamed, its MAC left): the store refuses to open.
        var store = System.Text.Json.Nodes.JsonNode.Parse(Etcdctl("get", address.StoreKey, "--print-value-only"))!;
        var body = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(store["body"]!.GetValue<string>()));
        Assert.Contains("alias/k", body);
        store["body"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(body.Replace("alias/k", "alias/x", StringComparison.Ordinal)));
        var tampered = store.ToJsonString();
        Etcdctl("put", address.StoreKey, tampered);
        var e = Assert.Throws<KeyStoreException>(() => f.Reopen());
        Assert.Equal(KeyStoreErrors.StoreDamaged, e.ErrorCode);
        Assert.Contains(address.ToString(), e.Message);

        string Etcdctl(params string[] arguments) => EtcdCluster.Etcdctl(address, arguments);
    }

    [SkippableFact]
    public void Three_writers_at_once_lose_no_acknowledged_change_and_the_chain_verifies()
    {
        using var f = new StoreFixture(etcd);
        var stores = Enumerable.Range(0, 3).Select(_ => f.OpenAnother()).ToArray();
        try
        {
            var aliases = new ConcurrentBag<string>();
            var rotated = new ConcurrentBag<string>();
            var granted = new ConcurrentBag<(string KeyId, string GrantId)>();
            var errors = new ConcurrentBag<Exception>();
            var writers = stores.Select((store, w) => new Thread(() =>
            {
                for (var i = 0; i < 67 && errors.IsEmpty; i++)
                {
                    try
                    {
                        var alias = $"alias/w{w}-{i}";
                        var key = store.CreateKey($"writer {w} key {i}", StoreFixture.Admin, alias);
                        aliases.Add(alias);
                        if (i % 3 == 1)
                        {
                            store.RotateKey(key.KeyId, StoreFixture.Admin);
                            rotated.Add(key.KeyId);
                        }
                        else if (i % 3 == 2)
                        {
                            var grant = store.CreateGrant(key.KeyId, "blocksim-daemon", ["Decrypt"], new Dictionary<string, string>(), StoreFixture.Admin, null, []);
                            granted.Add((key.KeyId, grant.GrantId));
                        }
                    }
                    catch (Exception e)
                    {
                        errors.Add(e);
                    }
                }
            })).ToList();
            writers.ForEach(t => t.Start());
            writers.ForEach(t => t.Join());
            Assert.Empty(errors);

            // Every acknowledged change is there, once.
            var keys = f.Reopen().ListKeys(StoreFixture.Admin);
            var present = keys.SelectMany(k => k.Aliases).ToList();
            Assert.Equal(present.Count, present.Distinct().Count());
            Assert.All(aliases, alias => Assert.Contains(alias, present));
            Assert.All(rotated, id => Assert.Equal(2, keys.Single(k => k.KeyId == id).CurrentVersion));
            Assert.All(granted, g => Assert.Single(f.Store.ListGrants(g.KeyId, StoreFixture.Admin), x => x.GrantId == g.GrantId));

            Assert.Equal(3 * 67, present.Count(a => a.StartsWith("alias/w", StringComparison.Ordinal)));
            var verification = f.Store.VerifyAuditLog();
            Assert.Empty(verification.Problems);
            Assert.Equal(3 * 67, f.AuditEvents().Count(e => e.Name == "CreateKey" && e.Error is null) - 1); // the default key's too
            Assert.All(f.AuditRecords(), r => Assert.Contains($"[{Environment.ProcessId}]", r.GetProperty("recordedBy").GetString()));
        }
        finally
        {
            foreach (var store in stores)
            {
                store.Dispose();
            }
        }
    }

    [SkippableFact]
    public void A_write_over_a_state_another_writer_changed_is_refused_and_nothing_is_written()
    {
        using var f = new StoreFixture(etcd);
        using var stale = (EtcdKeyStoreMedium)f.NewMedium();
        var copy = stale.ReadCopies().Single();
        f.Store.CreateKey("made meanwhile", StoreFixture.Admin, "alias/meanwhile");

        var e = Assert.Throws<KeyStoreConflictException>(() => stale.WriteStore(copy.Bytes!, null));
        Assert.Contains("changed by another writer", e.Message);
        Assert.Contains("alias/meanwhile", f.Reopen().ListKeys(StoreFixture.Admin).SelectMany(k => k.Aliases));
    }

    [SkippableFact]
    public void Destroying_a_key_re_keys_the_store_and_the_slot_names_its_key_file_in_full()
    {
        using var f = new StoreFixture(etcd);
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin, "alias/doomed").KeyId;
        var oldKeyFile = File.ReadAllBytes(f.KeyFile.Path);
        f.Store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Clock.Now = f.Clock.Now.AddDays(7);
        Assert.Equal(KeyState.Destroyed, f.Store.DescribeKey(doomed, StoreFixture.Admin).State);

        Assert.NotEqual(oldKeyFile, File.ReadAllBytes(f.KeyFile.Path));
        using (var medium = f.NewMedium())
        {
            var slots = JsonDocument.Parse(medium.ReadCopies().Single().Bytes!).RootElement.GetProperty("slots");
            Assert.Equal(f.KeyFile.Path, slots.EnumerateArray().Single().GetProperty("keyFile").GetString());
        }

        Assert.Equal(KeyState.Destroyed, f.Reopen().DescribeKey(doomed, StoreFixture.Admin).State);
        var old = f.Temp.File("old.key");
        File.WriteAllBytes(old, oldKeyFile);
        File.SetUnixFileMode(old, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(KeyStoreErrors.UnlockFailed, Assert.Throws<KeyStoreException>(() => f.OpenAnother(new KeyFileUnlocker(old))).ErrorCode);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [SkippableFact]
    public void Creating_a_store_where_one_exists_is_refused()
    {
        using var f = new StoreFixture(etcd);
        var other = KeyFileUnlocker.Create(f.Temp.File("other.key"));
        var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Create(f.NewMedium(), other, "user:mallory"));
        Assert.Equal(KeyStoreErrors.AlreadyExists, e.ErrorCode);
        Assert.Single(f.Reopen().ListKeys(StoreFixture.Admin));
    }

    [SkippableFact]
    public void Archiving_moves_old_records_into_segments_that_verify_as_one_chain_and_a_changed_segment_is_detected()
    {
        using var f = new StoreFixture(etcd);
        for (var i = 0; i < 30; i++)
        {
            f.Store.CreateKey($"key {i}", StoreFixture.Admin, $"alias/k{i}");
        }

        using var medium = (EtcdKeyStoreMedium)f.NewMedium();
        ((EtcdAuditStorage)medium.Audit).SegmentBytes = 2048; // a few records each, so the archive takes several
        using var store = SealedKeyStore.Open(medium, f.KeyFile, f.Clock);
        var archived = store.ArchiveAuditLog(5, StoreFixture.Admin);
        Assert.Equal(26, archived.Records);
        Assert.True(archived.Segments.Count > 2, string.Join(", ", archived.Segments));

        var address = medium.Address;
        var live = EtcdCluster.Etcdctl(address, "get", "--prefix", address.AuditRecordPrefix, "--keys-only").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, live.Length); // the five kept, and the archive's own record
        var verification = store.VerifyAuditLog();
        Assert.Empty(verification.Problems);
        Assert.Equal(32, verification.Records);
        var record = f.AuditRecords()[^1];
        Assert.Equal("ArchiveAuditLog", record.GetProperty("eventName").GetString());
        Assert.Equal("26", record.GetProperty("additionalEventData").GetProperty("recordsArchived").GetString());

        // A segment edited, or one removed, breaks the chain as an edited or removed record would.
        var segment = archived.Segments[1];
        var text = EtcdCluster.Etcdctl(address, "get", segment, "--print-value-only").TrimEnd('\n');
        EtcdCluster.Etcdctl(address, "put", segment, text.Replace("alias", "alibi", StringComparison.Ordinal).Replace("CreateKey", "CreateKez", StringComparison.Ordinal));
        Assert.Contains(store.VerifyAuditLog().Problems, p => p.Contains("HMAC", StringComparison.Ordinal));
        EtcdCluster.Etcdctl(address, "put", segment, text);
        Assert.Empty(store.VerifyAuditLog().Problems);
        EtcdCluster.Etcdctl(address, "del", archived.Segments[0]);
        Assert.NotEmpty(store.VerifyAuditLog().Problems);
    }

    [Theory]
    [InlineData("etcd://127.0.0.1:2379", "no key prefix")]
    [InlineData("etcd://127.0.0.1:2379/", "no key prefix")]
    [InlineData("etcd://127.0.0.1/blocksim", "HOST:PORT")]
    [InlineData("etcd://127.0.0.1:99999/blocksim", "HOST:PORT")]
    [InlineData("etcd://127.0.0.1:2379,/blocksim", "HOST:PORT")]
    [InlineData("etcd://127.0.0.1:2379/a//b", "empty part")]
    [InlineData("http://127.0.0.1:2379/blocksim", "etcd://")]
    public void A_malformed_address_says_what_the_form_is(string address, string said)
    {
        var e = Assert.Throws<KeyStoreException>(() => EtcdStoreAddress.Parse(address));
        Assert.Equal(KeyStoreErrors.Validation, e.ErrorCode);
        Assert.Contains(said, e.Message);
        Assert.Contains("etcd://HOST:PORT[,HOST:PORT...]/PREFIX", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"volumeId\":\"not a guid\",\"volume\":\"v\",\"export\":\"e\",\"host\":\"h\",\"daemon\":\"d\",\"listeners\":[]}")]
    [InlineData("{\"volumeId\":\"2b1f3c1e-0000-4000-8000-000000000001\",\"volume\":\"v\",\"export\":\"e\",\"host\":\"h\",\"daemon\":\"d\",\"listeners\":null}")]
    [InlineData("{\"volumeId\":\"2b1f3c1e-0000-4000-8000-000000000001\",\"volume\":\"v\",\"export\":\"e\",\"host\":\"h\",\"daemon\":\"d\",\"listeners\":[null]}")]
    [InlineData("{\"volumeId\":\"2b1f3c1e-0000-4000-8000-000000000001\",\"export\":\"e\",\"host\":\"h\",\"daemon\":\"d\",\"listeners\":[]}")]
    public void A_lease_value_no_daemon_wrote_is_left_out_not_a_crash(string value)
    {
        Assert.Null(EtcdVolumeLeases.TryParse(System.Text.Encoding.UTF8.GetBytes(value)));
    }

    [Fact]
    public void A_lease_a_daemon_wrote_reads_back()
    {
        var lease = new VolumeLease(Guid.NewGuid(), "/data/volumes/db.vol", "db", "node1", "blocksim[42]", ["127.0.0.1:10809"], DateTimeOffset.UnixEpoch);
        var read = EtcdVolumeLeases.TryParse(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(lease, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web)));
        Assert.NotNull(read);
        Assert.Equal(lease.VolumeId, read.VolumeId);
        Assert.Equal(lease.Listeners, read.Listeners);
    }

    [Fact]
    public void An_address_keeps_its_members_and_prefix()
    {
        var address = EtcdStoreAddress.Parse("etcd://10.0.0.1:2379,node2:12379/fleet/keys/");
        Assert.Equal([("10.0.0.1", 2379), ("node2", 12379)], address.Members);
        Assert.Equal("/fleet/keys", address.Prefix);
        Assert.Equal("etcd://10.0.0.1:2379,node2:12379/fleet/keys", address.ToString());
        Assert.Equal("/fleet/keys/audit/records/00000000000000000042", address.AuditRecordKey(42));
    }
}
