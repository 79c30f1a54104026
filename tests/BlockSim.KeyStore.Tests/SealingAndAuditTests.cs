using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

public class SealingAndAuditTests
{
    [Fact]
    public void The_store_reopens_with_its_key_file_and_refuses_another()
    {
        using var f = new StoreFixture();
        var id = f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId;
        Assert.Equal(id, f.Reopen().DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId);
        var other = KeyFileUnlocker.Create(f.Temp.File("other.key"));
        var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, other));
        Assert.Equal("UnlockFailed", e.ErrorCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.Temp.File("store.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(f.StorePath, "keystore.json")));
    }

    [Fact]
    public void A_passphrase_slot_opens_the_store_and_a_wrong_passphrase_does_not()
    {
        using var f = new StoreFixture();
        f.Store.AddUnlocker(new PassphraseUnlocker("correct horse", memoryKiB: 1024, iterations: 1, parallelism: 1));
        using (var byPassphrase = SealedKeyStore.Open(f.StorePath, new PassphraseUnlocker("correct horse")))
        {
            Assert.Equal(KeyState.Enabled, byPassphrase.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
        }

        var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, new PassphraseUnlocker("wrong")));
        Assert.StartsWith("Wrong passphrase for the key store", e.Message);
        Assert.DoesNotContain("correct horse", new PassphraseUnlocker("correct horse").ToString());
    }

    [Theory]
    [InlineData("keystore.json")]
    [InlineData("keystore.backup.json")]
    public void A_tampered_copy_is_reported_and_the_good_one_used(string name)
    {
        using var f = new StoreFixture();
        var id = f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId;
        Tamper(Path.Combine(f.StorePath, name));
        var store = f.Reopen();
        Assert.Single(store.CheckCopies(), p => p.Contains(name));
        Assert.Equal(id, store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId); // every request writes the store (its audit anchor), so this repairs the copy
        Assert.Empty(store.CheckCopies());
    }

    [Fact]
    public void Both_copies_tampered_is_a_clear_error()
    {
        using var f = new StoreFixture();
        f.Store.Dispose();
        Tamper(Path.Combine(f.StorePath, "keystore.json"));
        Tamper(Path.Combine(f.StorePath, "keystore.backup.json"));
        var e = Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, f.KeyFile));
        Assert.Equal("StoreDamaged", e.ErrorCode);
    }

    [Theory]
    [InlineData("edit")]
    [InlineData("delete")]
    [InlineData("reorder")]
    [InlineData("truncate")]
    public void Audit_verify_detects_tampering(string how)
    {
        using var f = new StoreFixture();
        for (var i = 0; i < 4; i++)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        var lines = File.ReadAllLines(f.Store.AuditLogPath).ToList();
        switch (how)
        {
            case "edit":
                lines[2] = lines[2].Replace("user:admin", "user:mallory");
                break;
            case "delete":
                lines.RemoveAt(2);
                break;
            case "reorder":
                (lines[1], lines[2]) = (lines[2], lines[1]);
                break;
            default:
                lines.RemoveAt(lines.Count - 1);
                break;
        }

        File.WriteAllLines(f.Store.AuditLogPath, lines);
        Assert.NotEmpty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void When_the_audit_record_cannot_be_written_the_decrypt_fails_closed()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        File.Move(f.Store.AuditLogPath, f.Store.AuditLogPath + ".moved");
        Directory.CreateDirectory(f.Store.AuditLogPath); // appending to it now fails
        var key = new byte[64];
        var e = Assert.ThrowsAny<Exception>(() => f.Store.Decrypt(wrapped, context, key, StoreFixture.Admin));
        Assert.Contains("audit", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.All(key, b => Assert.Equal(0, b)); // no key material was released
    }

    [Fact]
    public async Task Concurrent_writers_from_two_store_objects_lose_nothing()
    {
        using var f = new StoreFixture();
        using var second = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock);
        var a = Task.Run(() => Enumerable.Range(0, 10).Select(i => f.Store.CreateKey($"a{i}", StoreFixture.Admin).KeyId).ToList());
        var b = Task.Run(() => Enumerable.Range(0, 10).Select(i => second.CreateKey($"b{i}", StoreFixture.Admin).KeyId).ToList());
        var created = (await a).Concat(await b).ToHashSet();
        var listed = f.Reopen().ListKeys(StoreFixture.Admin).Select(k => k.KeyId).ToHashSet();
        Assert.Subset(listed, created);
        Assert.Equal(21, listed.Count);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void The_audit_log_tells_a_volume_lifecycle_story()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("vol-7");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin);
        f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.DaemonForAdmin);
        f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.DaemonForAdmin));
        f.Store.EnableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        f.Store.RotateKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        f.Store.ReEncrypt(wrapped, context, null, StoreFixture.Admin);
        f.Store.ScheduleKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        f.Store.CancelKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin);

        Assert.Equal(
            new (string, string?)[]
            {
                ("CreateKey", null), ("GenerateDataKeyWithoutPlaintext", null), ("CreateGrant", null), ("Decrypt", null),
                ("DisableKey", null), ("Decrypt", "DisabledException"), ("EnableKey", null), ("RotateKey", null),
                ("ReEncrypt", null), ("ScheduleKeyDeletion", null), ("CancelKeyDeletion", null),
            },
            f.AuditEvents());
        var decrypt = File.ReadAllLines(f.Store.AuditLogPath)[3];
        Assert.Contains("\"invokedBy\": \"blocksim-daemon\"", decrypt.Replace("\":\"", "\": \""));
        Assert.Contains("vol-7", decrypt);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    private static void Tamper(string path)
    {
        var text = File.ReadAllText(path);
        var at = text.IndexOf("\"body\": \"", StringComparison.Ordinal) + 12;
        var chars = text.ToCharArray();
        chars[at] = chars[at] == 'A' ? 'B' : 'A';
        File.WriteAllText(path, new string(chars));
    }
}
