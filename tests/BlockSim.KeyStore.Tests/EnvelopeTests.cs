using System.Security.Cryptography;

namespace BlockSim.KeyStore.Tests;

/// <summary>Runs against every medium: a directory (<see cref="EnvelopeTestsOnFiles"/>) and etcd (<see cref="EnvelopeTestsOnEtcd"/>).</summary>
public abstract class EnvelopeTests
{
    protected abstract StoreFixture NewStore();

    [SkippableFact]
    public void A_generated_data_key_decrypts_only_with_the_same_context()
    {
        using var f = NewStore();
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, StoreFixture.Context("v1"), 64, StoreFixture.Admin);
        var key = new byte[64];
        f.Store.Decrypt(wrapped, StoreFixture.Context("v1"), key, StoreFixture.DaemonForAdmin);
        Assert.False(key.AsSpan(0, 32).SequenceEqual(key.AsSpan(32)));
        var e = Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, StoreFixture.Context("v2"), new byte[64], StoreFixture.Admin));
        Assert.Equal("InvalidCiphertextException", e.ErrorCode);
        Assert.Contains("fields: volumeId", e.Message);
        Assert.DoesNotContain(Convert.ToHexString(key), e.Message);
    }

    [SkippableFact]
    public void An_altered_blob_is_refused()
    {
        using var f = NewStore();
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, StoreFixture.Context("v"), 64, StoreFixture.Admin);
        wrapped[^20] ^= 1;
        Assert.Equal("InvalidCiphertextException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, StoreFixture.Context("v"), new byte[64], StoreFixture.Admin)).ErrorCode);
    }

    [SkippableFact]
    public void Rotation_keeps_old_wraps_readable_and_re_encrypt_moves_them_to_the_new_version()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var old = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var before = new byte[64];
        f.Store.Decrypt(old, context, before, StoreFixture.Admin);

        Assert.Equal(2, f.Store.RotateKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).CurrentVersion);
        var fresh = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        Assert.Equal(2, SealedKeyStore.InspectWrappedKey(fresh).KeyVersion);
        Assert.Equal(1, SealedKeyStore.InspectWrappedKey(old).KeyVersion);

        var rewrapped = f.Store.ReEncrypt(old, context, null, StoreFixture.Admin);
        Assert.Equal(2, SealedKeyStore.InspectWrappedKey(rewrapped).KeyVersion);
        var after = new byte[64];
        f.Store.Decrypt(rewrapped, context, after, StoreFixture.Admin);
        Assert.Equal(before, after); // the same volume key: no data re-encryption needed
        f.Store.Decrypt(old, context, after, StoreFixture.Admin);

        f.Store.RotateKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin, minimumDecryptVersion: 2);
        Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(old, context, after, StoreFixture.Admin)).ErrorCode);
        f.Store.Decrypt(rewrapped, context, after, StoreFixture.Admin);
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(3)]
    public void A_minimum_decrypt_version_outside_1_to_the_new_version_is_refused_and_nothing_changes(int minimum)
    {
        using var f = NewStore();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.RotateKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin, minimum));
        Assert.Equal("ValidationException", e.ErrorCode);
        Assert.Contains($"minimum decryption version {minimum}: give 1 to 2", e.Message, StringComparison.Ordinal);
        var key = f.Reopen().DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        Assert.Equal((1, 1), (key.CurrentVersion, key.MinimumDecryptVersion));
    }

    [SkippableFact]
    public void Re_encrypt_can_move_a_data_key_to_another_key()
    {
        using var f = NewStore();
        var other = f.Store.CreateKey("customer key", StoreFixture.Admin, "alias/customer");
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var moved = f.Store.ReEncrypt(wrapped, context, "alias/customer", StoreFixture.Admin);
        Assert.Equal(other.KeyId, SealedKeyStore.InspectWrappedKey(moved).KeyId);
        var a = new byte[64];
        var b = new byte[64];
        f.Store.Decrypt(wrapped, context, a, StoreFixture.Admin);
        f.Store.Decrypt(moved, context, b, StoreFixture.Admin);
        Assert.Equal(a, b);
    }

    [SkippableFact]
    public void Destroying_a_key_shreds_its_data_keys_in_both_store_copies()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        f.Store.ScheduleKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin, 7);
        f.Clock.Now = f.Clock.Now.AddDays(7);
        var e = Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.Admin));
        Assert.Contains("destroyed", e.Message);
        Assert.Equal(KeyState.Destroyed, f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);

        // Every copy holds no material for the key any more (each copy's body is checked).
        using var medium = f.NewMedium();
        foreach (var copy in medium.ReadCopies())
        {
            var file = System.Text.Json.JsonDocument.Parse(copy.Bytes!);
            var body = System.Text.Encoding.UTF8.GetString(file.RootElement.GetProperty("body").GetBytesFromBase64());
            Assert.Contains("\"versions\": []", body);
        }

        Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => f.Reopen().Decrypt(wrapped, context, new byte[64], StoreFixture.Admin)).ErrorCode);
    }

    [SkippableFact]
    public void Data_keys_need_16_to_1024_bytes()
    {
        using var f = NewStore();
        Assert.Equal("ValidationException", Assert.Throws<KeyStoreException>(() => f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, StoreFixture.Context("v"), 8, StoreFixture.Admin)).ErrorCode);
        CryptographicOperations.ZeroMemory(new byte[1]);
    }
}

public sealed class EnvelopeTestsOnFiles : EnvelopeTests
{
    protected override StoreFixture NewStore() => new();
}

[Collection(EtcdCollection.Name)]
public sealed class EnvelopeTestsOnEtcd(EtcdCluster etcd) : EnvelopeTests
{
    protected override StoreFixture NewStore() => new(etcd);
}
