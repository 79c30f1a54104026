using System.Text.Json;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>Slot list, add and remove for key files and passphrases: the last slot stays, removed slots open nothing, every change is audited.</summary>
public class KeySlotTests
{
    private static PassphraseUnlocker Passphrase(string text = "correct horse battery") => new(text, memoryKiB: 1024, iterations: 1, parallelism: 1);

    [Fact]
    public void Slots_are_listed_without_unsealing()
    {
        using var f = new StoreFixture();
        f.Store.AddSlot(Passphrase(), StoreFixture.Admin);
        using var medium = f.NewMedium();
        var slots = SealedKeyStore.PeekSlots(medium);
        Assert.Equal(["keyfile", "passphrase"], slots.Select(s => s.Type));
        Assert.Equal([0, 1], slots.Select(s => s.Index));
        Assert.Contains("m=1024 KiB", slots[1].Description, StringComparison.Ordinal);
        Assert.Equal(slots, f.Store.ListSlots());
        Assert.All(slots, s => Assert.NotNull(s.Created));
    }

    [Fact]
    public void The_last_slot_is_never_removed()
    {
        using var f = new StoreFixture();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.RemoveSlot(0, StoreFixture.Admin));
        Assert.Equal(KeyStoreErrors.Validation, e.ErrorCode);
        Assert.Contains("last slot", e.Message, StringComparison.Ordinal);
        Assert.Equal(KeyStoreErrors.NotFound, Assert.Throws<KeyStoreException>(() => f.Store.RemoveSlot(3, StoreFixture.Admin)).ErrorCode);
        Assert.Single(f.Reopen().ListSlots());
        var refusals = File.ReadLines(f.Store.AuditLogPath).Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.GetProperty("eventName").GetString() == "RemoveKeySlot").ToList();
        Assert.Equal(2, refusals.Count);
        Assert.All(refusals, r => Assert.True(r.TryGetProperty("errorCode", out _)));
    }

    [Fact]
    public void A_removed_passphrase_opens_nothing_and_the_key_file_still_does()
    {
        using var f = new StoreFixture();
        f.Store.AddSlot(Passphrase(), StoreFixture.Admin);
        using (SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock))
        {
        }

        var removed = f.Store.RemoveSlot(1, StoreFixture.Admin);
        Assert.Equal("passphrase", removed.Type);
        Assert.Equal(KeyStoreErrors.UnlockFailed, Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock)).ErrorCode);
        using var byKeyFile = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock);
        Assert.StartsWith("slot 0: key file", byKeyFile.OpenedWith, StringComparison.Ordinal);
    }

    [Fact]
    public void A_store_opened_by_a_passphrase_can_drop_its_key_file_slot_and_a_re_key_does_not_bring_it_back()
    {
        using var f = new StoreFixture();
        f.Store.AddSlot(Passphrase(), StoreFixture.Admin);
        f.Store.Dispose();
        using var store = SealedKeyStore.Open(f.StorePath, Passphrase(), f.Clock);
        store.RemoveSlot(0, StoreFixture.Admin);
        var doomed = store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Clock.Now += TimeSpan.FromDays(8);
        Assert.Equal(KeyState.Destroyed, store.DescribeKey(doomed, StoreFixture.Admin).State); // re-keyed
        Assert.Equal(["passphrase"], store.ListSlots().Select(s => s.Type));
        Assert.Equal(KeyStoreErrors.UnlockFailed, Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock)).ErrorCode);
    }

    [Fact]
    public void A_slot_removed_by_another_process_is_not_brought_back_by_a_re_key_here()
    {
        using var f = new StoreFixture();
        f.Store.AddSlot(Passphrase(), StoreFixture.Admin); // this process, opened with the key file, holds both
        using (var other = f.OpenAnother(Passphrase()))
        {
            other.RemoveSlot(0, StoreFixture.Admin); // the key-file slot, from another process
        }

        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        f.Store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Clock.Now += TimeSpan.FromDays(8);
        Assert.Equal(KeyState.Destroyed, f.Store.DescribeKey(doomed, StoreFixture.Admin).State); // re-keyed here
        Assert.Equal(["passphrase"], f.Store.ListSlots().Select(s => s.Type));
        Assert.Equal(KeyStoreErrors.UnlockFailed, Assert.Throws<KeyStoreException>(() => f.OpenAnother()).ErrorCode);
    }

    [Fact]
    public void A_second_key_file_opens_the_store_like_the_first()
    {
        using var f = new StoreFixture();
        var second = KeyFileUnlocker.Create(f.Temp.File("second.key"));
        var added = f.Store.AddSlot(second, StoreFixture.Admin);
        Assert.Equal(Path.GetFullPath(f.Temp.File("second.key")), Path.GetFullPath(Path.Combine(f.StorePath, added.KeyFile!)));
        using var opened = SealedKeyStore.Open(f.StorePath, second, f.Clock);
        Assert.StartsWith("slot 1: key file", opened.OpenedWith, StringComparison.Ordinal);
    }

    [Fact]
    public void Opening_is_recorded_with_the_slot_when_asked()
    {
        using var f = new StoreFixture();
        f.Store.RecordOpened(new KeyRequestContext("blocksim-daemon"));
        var record = File.ReadLines(f.Store.AuditLogPath).Select(l => JsonDocument.Parse(l).RootElement).Last();
        Assert.Equal("OpenKeyStore", record.GetProperty("eventName").GetString());
        Assert.StartsWith("slot 0: key file", record.GetProperty("additionalEventData").GetProperty("keySlot").GetString(), StringComparison.Ordinal);
    }
}
