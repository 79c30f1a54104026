using System.Text.Json;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// Destroying a key re-keys the store (finding 6: a destroyed key came back when an earlier keystore*.json
/// was copied back). After a destruction an old copy no longer opens with the current key file, what is
/// left keeps working, and the audit log verifies across the new root.
/// </summary>
public class ReKeyTests
{
    internal static readonly string[] CopyNames = ["keystore.json", "keystore.backup.json"];

    [Fact]
    public void An_old_copy_put_back_after_destruction_does_not_open_with_the_current_key_file()
    {
        using var f = new StoreFixture();
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        var before = Copies(f);
        var oldSealed = SealedMaterial(before["keystore.json"], doomed);
        Destroy(f, doomed);

        // The destroyed key's sealed material is in no current file of the store, nor beside it (a store
        // copy holds its body in base64, so the bodies are searched decoded).
        foreach (var file in Directory.GetFiles(f.Temp.Path, "*", SearchOption.AllDirectories))
        {
            var text = CopyNames.Contains(Path.GetFileName(file))
                ? string.Join("\n", Body(File.ReadAllBytes(file)).GetProperty("keys").EnumerateArray().SelectMany(k => k.GetProperty("versions").EnumerateArray()).Select(v => v.GetProperty("sealed").GetString()))
                : File.ReadAllText(file);
            Assert.All(oldSealed, s => Assert.DoesNotContain(s, text));
        }

        foreach (var restored in new[] { CopyNames, ["keystore.json"], ["keystore.backup.json"] })
        {
            f.Store.Dispose();
            var current = Copies(f);
            foreach (var name in CopyNames)
            {
                File.WriteAllBytes(Path.Combine(f.StorePath, name), restored.Contains(name) ? before[name] : current[name]);
            }

            if (restored.Length == 2)
            {
                var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock));
                Assert.Equal("UnlockFailed", e.ErrorCode);
                Assert.Contains("copy of the store made before a destruction", e.Message);
                foreach (var name in CopyNames)
                {
                    File.WriteAllBytes(Path.Combine(f.StorePath, name), current[name]);
                }
            }

            // One old copy beside a current one: the current one is used, the old one reported, the key stays destroyed.
            var store = f.Reopen();
            Assert.Equal(KeyState.Destroyed, store.DescribeKey(doomed, StoreFixture.Admin).State);
            Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => store.CancelKeyDeletion(doomed, StoreFixture.Admin)).ErrorCode);
            Assert.Empty(store.CheckCopies()); // the requests above rewrote the old copy
        }
    }

    [Fact]
    public void The_remaining_keys_decrypt_what_they_wrapped_before_the_re_key_and_the_key_file_is_new()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v1");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        f.Store.RotateKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        var wrappedV2 = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var expected = Decrypt(f.Store, wrapped, context);
        var expectedV2 = Decrypt(f.Store, wrappedV2, context);
        var oldKeyFile = File.ReadAllBytes(f.KeyFile.Path);

        Destroy(f, f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId);

        var newKeyFile = File.ReadAllBytes(f.KeyFile.Path);
        Assert.NotEqual(oldKeyFile, newKeyFile);
        Assert.Equal(32, newKeyFile.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.KeyFile.Path));
        Assert.False(File.Exists(f.KeyFile.Path + ".next"));
        Assert.Equal(expected, Decrypt(f.Store, wrapped, context));
        Assert.Equal(expectedV2, Decrypt(f.Store, wrappedV2, context));
        Assert.Equal(expected, Decrypt(f.Reopen(), wrapped, context));
        Assert.Equal(expectedV2, Decrypt(f.Store, wrappedV2, context));

        // The old key file opens nothing any more.
        var old = f.Temp.File("old.key");
        File.WriteAllBytes(old, oldKeyFile);
        File.SetUnixFileMode(old, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("UnlockFailed", Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, new KeyFileUnlocker(old), f.Clock)).ErrorCode);
    }

    [Fact]
    public void The_audit_log_verifies_across_the_re_key_and_the_destruction_record_says_what_changed()
    {
        using var f = new StoreFixture();
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        Destroy(f, doomed);

        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        Assert.Empty(f.Reopen().VerifyAuditLog().Problems);
        var deleteKey = Records(f).Single(r => r.GetProperty("eventName").GetString() == "DeleteKey");
        var data = deleteKey.GetProperty("additionalEventData");
        Assert.Equal("replaced", data.GetProperty("rootKey").GetString());
        Assert.Contains(f.KeyFile.Path, data.GetProperty("keySlotsResealed").GetString());
        Assert.Contains("Copies of the store made before this destruction still hold the key", data.GetProperty("note").GetString());
        Assert.DoesNotContain(Records(f), r => r.GetProperty("eventName").GetString() == "RemoveKeySlot");
    }

    [Fact]
    public void Two_keys_due_at_once_are_destroyed_under_one_new_root()
    {
        using var f = new StoreFixture();
        var first = f.Store.CreateKey("first", StoreFixture.Admin).KeyId;
        var second = f.Store.CreateKey("second", StoreFixture.Admin).KeyId;
        f.Store.ScheduleKeyDeletion(first, StoreFixture.Admin, 7);
        f.Store.ScheduleKeyDeletion(second, StoreFixture.Admin, 7);
        f.Clock.Now = f.Clock.Now.AddDays(8);
        f.Store.ListKeys(StoreFixture.Admin);

        Assert.Equal(2, Records(f).Count(r => r.GetProperty("eventName").GetString() == "DeleteKey" && r.GetProperty("additionalEventData").GetProperty("rootKey").GetString() == "replaced"));
        Assert.Empty(f.Reopen().VerifyAuditLog().Problems);
        Assert.Equal(KeyState.Enabled, f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
    }

    /// <summary>Schedules <paramref name="keyId"/> for deletion, lets the waiting period pass, and has the next request destroy it.</summary>
    internal static void Destroy(StoreFixture f, string keyId)
    {
        f.Store.ScheduleKeyDeletion(keyId, StoreFixture.Admin, 7);
        f.Clock.Now = f.Clock.Now.AddDays(8);
        f.Store.ListKeys(StoreFixture.Admin);
        Assert.Equal(KeyState.Destroyed, f.Store.DescribeKey(keyId, StoreFixture.Admin).State);
    }

    internal static Dictionary<string, byte[]> Copies(StoreFixture f) =>
        CopyNames.ToDictionary(name => name, name => File.ReadAllBytes(Path.Combine(f.StorePath, name)));

    internal static byte[] Decrypt(SealedKeyStore store, byte[] wrapped, Dictionary<string, string> context)
    {
        var plaintext = new byte[64];
        store.Decrypt(wrapped, context, plaintext, StoreFixture.Admin);
        return plaintext;
    }

    internal static List<JsonElement> Records(StoreFixture f) =>
        [.. File.ReadAllLines(f.Store.AuditLogPath).Select(line => JsonDocument.Parse(line).RootElement)];

    /// <summary>The store body of a copy, as JSON.</summary>
    internal static JsonElement Body(byte[] copy) =>
        JsonDocument.Parse(JsonDocument.Parse(copy).RootElement.GetProperty("body").GetBytesFromBase64()).RootElement;

    /// <summary>The sealed material of every version of <paramref name="keyId"/> in a copy (base64, as the file holds it).</summary>
    private static List<string> SealedMaterial(byte[] copy, string keyId)
    {
        var key = Body(copy).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("keyId").GetString() == keyId);
        var sealedMaterial = key.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("sealed").GetString()!).ToList();
        Assert.NotEmpty(sealedMaterial);
        return sealedMaterial;
    }
}
