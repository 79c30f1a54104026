using System.Text.Json;
using BlockSim.Kmip;
using BlockSim.Kmip.Tests;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// kmip keyslots against PyKMIP's server: a store sealed only by a KMIP key opens with one Decrypt, the key
/// file it had no longer does, and a revoked or destroyed key, a server that is down or a certificate it
/// refuses each fail the open clearly, with the store untouched.
/// </summary>
[Collection(PyKmipCollection.Name)]
public class KmipSlotTests(PyKmipServer server)
{
    private static readonly string[] s_storeFiles = ["keystore.json", "keystore.backup.json"];

    /// <summary>A store whose only slot is a new KMIP key (its key-file slot added at creation, then removed).</summary>
    private static (string KeyId, string ObjectId) SealOnlyByKmip(StoreFixture f, KmipEndpoint endpoint)
    {
        var unlocker = KmipUnlocker.ForNewSlot(endpoint, null);
        var added = f.Store.AddSlot(unlocker, StoreFixture.Admin);
        Assert.Equal(1, added.Index);
        Assert.Equal("kmip", added.Type);
        Assert.Equal(unlocker.ObjectId, added.KmipObjectId);
        var removed = f.Store.RemoveSlot(0, StoreFixture.Admin);
        Assert.Equal("keyfile", removed.Type);
        var keyId = f.Store.CreateKey("data", StoreFixture.Admin).KeyId;
        return (keyId, unlocker.ObjectId!);
    }

    private static List<JsonElement> Records(StoreFixture f) =>
        [.. File.ReadLines(f.Store.AuditLogPath).Select(l => JsonDocument.Parse(l).RootElement)];

    private static Dictionary<string, byte[]> StoreBytes(StoreFixture f) =>
        s_storeFiles.Where(n => File.Exists(Path.Combine(f.StorePath, n))).ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(f.StorePath, n)));

    [SkippableFact]
    public void A_store_sealed_only_by_kmip_opens_through_it_and_no_longer_with_its_key_file()
    {
        server.Require();
        using var f = new StoreFixture();
        var (keyId, objectId) = SealOnlyByKmip(f, server.Endpoint());
        f.Store.Dispose();

        using (var reopened = SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock))
        {
            Assert.Contains($"KMIP key {objectId} on 127.0.0.1:{server.Port}", reopened.OpenedWith, StringComparison.Ordinal);
            Assert.Equal(KeyState.Enabled, reopened.DescribeKey(keyId, StoreFixture.Admin).State);
            var slot = Assert.Single(reopened.ListSlots());
            Assert.Equal("kmip", slot.Type);
        }

        var refused = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock));
        Assert.Equal(KeyStoreErrors.UnlockFailed, refused.ErrorCode);

        var records = Records(f);
        var add = Assert.Single(records, r => r.GetProperty("eventName").GetString() == "AddKeySlot");
        Assert.Contains($"KMIP key {objectId}", add.GetProperty("additionalEventData").GetProperty("keySlot").GetString(), StringComparison.Ordinal);
        var remove = Assert.Single(records, r => r.GetProperty("eventName").GetString() == "RemoveKeySlot");
        Assert.Contains("key file", remove.GetProperty("additionalEventData").GetProperty("keySlot").GetString(), StringComparison.Ordinal);
        var text = File.ReadAllText(Path.Combine(f.StorePath, "keystore.json"));
        Assert.DoesNotContain(File.ReadAllText(server.Endpoint().KeyFile).Split('\n')[1], text, StringComparison.Ordinal); // the client key's content is never kept
    }

    [SkippableFact]
    public void A_revoked_key_fails_the_open_saying_so_and_changes_nothing()
    {
        server.Require();
        using var f = new StoreFixture();
        var (_, objectId) = SealOnlyByKmip(f, server.Endpoint());
        f.Store.Dispose();
        var before = StoreBytes(f);
        using (var client = KmipClient.Connect(server.Endpoint()))
        {
            client.Revoke(objectId, KmipRevocationReason.CessationOfOperation);
        }

        var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock));
        Assert.Equal(KeyStoreErrors.UnlockFailed, e.ErrorCode);
        Assert.Contains("revoked", e.Message, StringComparison.Ordinal);
        Assert.Contains(objectId, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, StoreBytes(f));

        using (var client = KmipClient.Connect(server.Endpoint()))
        {
            client.Destroy(objectId);
        }

        var gone = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock));
        Assert.Contains("Item Not Found", gone.Message, StringComparison.Ordinal);
        Assert.Equal(before, StoreBytes(f));
    }

    [SkippableFact]
    public void A_certificate_the_server_refuses_is_named()
    {
        server.Require();
        using var f = new StoreFixture();
        string objectId;
        using (var client = KmipClient.Connect(server.Endpoint("host-a")))
        {
            objectId = client.CreateAes256Key();
            client.Activate(objectId);
        }

        // host-b is a client of the same CA, but the key belongs to host-a.
        var notOwner = Assert.Throws<KeyStoreException>(() => f.Store.AddSlot(KmipUnlocker.ForNewSlot(server.Endpoint("host-b"), objectId), StoreFixture.Admin));
        Assert.Equal(KeyStoreErrors.UnlockFailed, notOwner.ErrorCode);
        Assert.Contains("Permission Denied", notOwner.Message, StringComparison.Ordinal);

        // stranger's certificate is from a CA the server does not know.
        var stranger = Assert.Throws<KeyStoreException>(() => f.Store.AddSlot(KmipUnlocker.ForNewSlot(server.Endpoint("stranger"), objectId), StoreFixture.Admin));
        Assert.Equal(KeyStoreErrors.AccessDenied, stranger.ErrorCode);
        Assert.Contains(server.Endpoint("stranger").CertificateFile, stranger.Message, StringComparison.Ordinal);

        Assert.Single(f.Store.ListSlots()); // nothing was added
        var existing = f.Store.AddSlot(KmipUnlocker.ForNewSlot(server.Endpoint("host-a"), objectId), StoreFixture.Admin);
        Assert.Equal(objectId, existing.KmipObjectId);
    }

    [SkippableFact]
    public void A_server_that_is_down_fails_the_open_as_unavailable()
    {
        server.Require();
        using var f = new StoreFixture();
        var unlocker = KmipUnlocker.ForNewSlot(server.Endpoint(), null);
        f.Store.AddSlot(unlocker, StoreFixture.Admin);
        f.Store.RemoveSlot(0, StoreFixture.Admin);
        f.Store.Dispose();
        server.Kill();
        try
        {
            var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock));
            Assert.Equal(KeyStoreErrors.StoreUnavailable, e.ErrorCode);
            Assert.Contains($"127.0.0.1:{server.Port}", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            server.Start();
        }

        using var back = SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock); // the same key, after the server is back
        Assert.Contains(unlocker.ObjectId!, back.OpenedWith, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_process_opened_by_its_key_file_follows_a_re_key_that_left_only_the_kmip_slot()
    {
        server.Require();
        using var f = new StoreFixture();
        f.Store.AddSlot(KmipUnlocker.ForNewSlot(server.Endpoint(), null), StoreFixture.Admin);
        var kept = f.Store.CreateKey("kept", StoreFixture.Admin).KeyId;
        using (var other = f.OpenAnother(KmipUnlocker.Recorded))
        {
            other.RemoveSlot(0, StoreFixture.Admin);
            var doomed = other.CreateKey("doomed", StoreFixture.Admin).KeyId;
            other.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
            f.Clock.Now += TimeSpan.FromDays(8);
            Assert.Equal(KeyState.Destroyed, other.DescribeKey(doomed, StoreFixture.Admin).State); // re-keyed there
        }

        // This process still holds the old root and its key file, which opens nothing now: it follows through the kmip slot.
        Assert.Equal(KeyState.Enabled, f.Store.DescribeKey(kept, StoreFixture.Admin).State);
        Assert.Equal(["kmip"], f.Store.ListSlots().Select(s => s.Type));
    }

    [SkippableFact]
    public void A_key_destruction_re_seals_the_kmip_slot_under_the_same_kmip_key()
    {
        server.Require();
        using var f = new StoreFixture();
        var (_, objectId) = SealOnlyByKmip(f, server.Endpoint());
        f.Store.Dispose();
        using var store = SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock);
        var before = File.ReadAllText(Path.Combine(f.StorePath, "keystore.json"));
        var doomed = store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Clock.Now += TimeSpan.FromDays(8);
        Assert.Equal(KeyState.Destroyed, store.DescribeKey(doomed, StoreFixture.Admin).State); // this request re-keyed the store
        var slot = Assert.Single(store.ListSlots());
        Assert.Equal(objectId, slot.KmipObjectId);
        store.Dispose();

        using var reopened = SealedKeyStore.Open(f.StorePath, KmipUnlocker.Recorded, f.Clock);
        Assert.Equal(KeyState.Destroyed, reopened.DescribeKey(doomed, StoreFixture.Admin).State);
        Assert.NotEqual(before, File.ReadAllText(Path.Combine(f.StorePath, "keystore.json")));
        var deletion = Assert.Single(Records(f), r => r.GetProperty("eventName").GetString() == "DeleteKey");
        Assert.Contains("kmip slot", deletion.GetProperty("additionalEventData").GetProperty("keySlotsResealed").GetString(), StringComparison.Ordinal);
    }
}
