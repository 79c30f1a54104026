using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// What a re-key does with each slot: a key file gets a new key file; a passphrase slot is re-sealed only
/// when this process holds its passphrase, and is removed (and recorded) otherwise; the slot the store was
/// opened with always stays. And a second process holding the store open follows the re-key.
/// </summary>
public class ReKeySlotTests
{
    private static PassphraseUnlocker Passphrase(string secret = "correct horse") => new(secret, memoryKiB: 1024, iterations: 1, parallelism: 1);

    [Fact]
    public void A_passphrase_slot_whose_passphrase_is_not_at_hand_is_removed_and_recorded()
    {
        using var f = new StoreFixture();
        using (var other = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock))
        {
            other.AddUnlocker(Passphrase());
        }

        var doomed = f.Reopen().CreateKey("doomed", StoreFixture.Admin).KeyId; // holds the key file only
        var before = ReKeyTests.Copies(f);
        ReKeyTests.Destroy(f, doomed);

        Assert.Equal("UnlockFailed", Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock)).ErrorCode);
        using (SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock))
        {
        }

        var records = ReKeyTests.Records(f);
        var removal = Assert.Single(records, r => r.GetProperty("eventName").GetString() == "RemoveKeySlot");
        Assert.Contains("passphrase slot", removal.GetProperty("additionalEventData").GetProperty("keySlot").GetString());
        var deleteKey = records.Single(r => r.GetProperty("eventName").GetString() == "DeleteKey").GetProperty("additionalEventData");
        Assert.Contains("passphrase slot", deleteKey.GetProperty("keySlotsRemoved").GetString());
        Assert.Contains("A passphrase slot cannot be re-sealed without its passphrase", deleteKey.GetProperty("note").GetString());
        Assert.DoesNotContain(records, r => r.GetRawText().Contains("correct horse", StringComparison.Ordinal));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);

        // As the warning says: a copy made before the destruction still opens with the passphrase.
        f.Store.Dispose();
        foreach (var (name, bytes) in before)
        {
            File.WriteAllBytes(Path.Combine(f.StorePath, name), bytes);
        }

        using var old = SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock);
        Assert.Equal(KeyState.Enabled, old.DescribeKey(doomed, StoreFixture.Admin).State); // the key as it was then
    }

    [Fact]
    public void A_store_opened_with_its_passphrase_re_seals_that_slot_and_replaces_the_key_file_it_records()
    {
        using var f = new StoreFixture();
        f.Store.AddUnlocker(Passphrase());
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        f.Store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Store.Dispose();
        var oldKeyFile = File.ReadAllBytes(f.KeyFile.Path);
        f.Clock.Now = f.Clock.Now.AddDays(8);
        using (var byPassphrase = SealedKeyStore.Open(f.StorePath, new PassphraseUnlocker("correct horse"), f.Clock)) // default cost settings
        {
            Assert.Equal(KeyState.Destroyed, byPassphrase.DescribeKey(doomed, StoreFixture.Admin).State);
        }

        Assert.NotEqual(oldKeyFile, File.ReadAllBytes(f.KeyFile.Path)); // found through the path its slot records
        var passphraseSlot = Slots(f.StorePath).Select(j => System.Text.Json.JsonDocument.Parse(j).RootElement).Single(e => e.GetProperty("type").GetString() == "passphrase");
        Assert.Equal(1024, passphraseSlot.GetProperty("argon2MemoryKiB").GetInt32()); // the slot's own cost, not the opener's defaults
        using (var byPassphrase = SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock))
        using (var byKeyFile = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock))
        {
            Assert.Equal(KeyState.Destroyed, byKeyFile.DescribeKey(doomed, StoreFixture.Admin).State);
            Assert.Empty(byKeyFile.VerifyAuditLog().Problems);
        }

        Assert.DoesNotContain(File.ReadAllLines(f.Store.AuditLogPath), l => l.Contains("RemoveKeySlot", StringComparison.Ordinal));
    }

    [Fact]
    public void A_store_whose_only_slot_is_a_passphrase_keeps_it_across_a_re_key()
    {
        var clock = new ManualClock();
        using var temp = new BlockSim.Storage.Tests.TempDirectory();
        var path = temp.File("store");
        string doomed;
        using (var store = SealedKeyStore.Create(path, Passphrase(), StoreFixture.Admin.Principal, clock))
        {
            doomed = store.CreateKey("doomed", StoreFixture.Admin).KeyId;
            store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
            var before = Slots(path);
            clock.Now = clock.Now.AddDays(8);
            Assert.Equal(KeyState.Destroyed, store.DescribeKey(doomed, StoreFixture.Admin).State);
            var after = Slots(path);
            Assert.Single(after);
            Assert.NotEqual(before.Single(), after.Single()); // sealed again for the new root, not just kept
        }

        using var reopened = SealedKeyStore.Open(path, Passphrase(), clock);
        Assert.Equal(KeyState.Destroyed, reopened.DescribeKey(doomed, StoreFixture.Admin).State);
        Assert.Empty(reopened.VerifyAuditLog().Problems);
    }

    /// <summary>Each slot of the primary copy, as its JSON text.</summary>
    private static List<string> Slots(string storePath) =>
        [.. System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(storePath, "keystore.json"))).RootElement.GetProperty("slots").EnumerateArray().Select(e => e.GetRawText())];

    [Fact]
    public void A_second_instance_holding_the_old_root_follows_the_re_key_and_corrupts_nothing()
    {
        using var f = new StoreFixture();
        using var daemon = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock);
        var context = StoreFixture.Context("v1");
        var wrapped = daemon.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var expected = ReKeyTests.Decrypt(daemon, wrapped, context);
        var oldKeyFile = File.ReadAllBytes(f.KeyFile.Path);

        ReKeyTests.Destroy(f, f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId); // "the CLI" destroys

        Assert.NotEqual(oldKeyFile, File.ReadAllBytes(f.KeyFile.Path));
        Assert.Equal(expected, ReKeyTests.Decrypt(daemon, wrapped, context));
        var created = daemon.CreateKey("after", StoreFixture.Admin).KeyId; // the daemon writes under the new root
        Assert.Equal(KeyState.Enabled, f.Store.DescribeKey(created, StoreFixture.Admin).State);
        Assert.Empty(daemon.CheckCopies());
        Assert.Empty(f.Reopen().VerifyAuditLog().Problems);
        Assert.Equal(expected, ReKeyTests.Decrypt(f.Store, wrapped, context));
    }

    [Fact]
    public void A_second_instance_whose_passphrase_slot_was_removed_fails_clearly_and_writes_nothing()
    {
        using var f = new StoreFixture();
        using (var other = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock))
        {
            other.AddUnlocker(Passphrase());
        }

        f.Reopen();
        using var byPassphrase = SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock);
        ReKeyTests.Destroy(f, f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId); // by the key file: the passphrase slot goes
        var copies = ReKeyTests.Copies(f);
        var records = File.ReadAllLines(f.Store.AuditLogPath).Length;

        var e = Assert.Throws<KeyStoreException>(() => byPassphrase.ListKeys(StoreFixture.Admin));
        Assert.Equal("UnlockFailed", e.ErrorCode);
        Assert.Contains("no longer opens with the passphrase", e.Message);
        Assert.DoesNotContain("correct horse", e.Message);
        Assert.Equal(copies, ReKeyTests.Copies(f));
        Assert.Equal(records, File.ReadAllLines(f.Store.AuditLogPath).Length);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }
}
