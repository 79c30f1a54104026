using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// The key file unseals the whole store, so a copy others can read is as good as no seal: like ssh with a
/// private key, the store refuses a key file with any group or other permission, and says the real mode and
/// the fix. A reviewer's <c>chmod 644 keystore.key</c> used to be accepted silently.
/// </summary>
public class KeyFileTests
{
    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "0644")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherRead, "0404")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite, "0620")]
    public void A_key_file_others_can_reach_is_refused_with_its_mode_and_the_fix(UnixFileMode mode, string octal)
    {
        using var f = new StoreFixture();
        var path = f.Temp.File("store.key");
        File.SetUnixFileMode(path, mode);

        var e = Assert.Throws<KeyStoreException>(() => f.Reopen());
        Assert.Equal("InsecureKeyFile", e.ErrorCode);
        Assert.Contains($"{path} has mode {octal}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {path}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite)]
    [InlineData(UnixFileMode.UserRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)]
    public void A_private_key_file_opens_the_store(UnixFileMode mode)
    {
        using var f = new StoreFixture();
        File.SetUnixFileMode(f.Temp.File("store.key"), mode);
        Assert.Equal(KeyState.Enabled, f.Reopen().DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
    }

    [Fact]
    public void A_missing_key_file_is_named_and_says_the_store_cannot_be_opened_without_it()
    {
        using var f = new StoreFixture();
        var path = f.Temp.File("store.key");
        File.Delete(path);

        var e = Assert.Throws<KeyStoreException>(() => f.Reopen());
        Assert.Equal("KeyFileMissing", e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be opened without it", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Creating_a_key_file_never_replaces_one()
    {
        using var temp = new BlockSim.Storage.Tests.TempDirectory();
        var path = temp.File("k");
        KeyFileUnlocker.Create(path);
        var before = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => KeyFileUnlocker.Create(path));
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
