using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Tests;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// A store written before re-keying existed (Fixtures/LegacyStore): its audit key was derived from the
/// root. It keeps verifying its old records, seals that key at its next write, and a re-key afterwards
/// keeps the whole log verifiable.
/// </summary>
public sealed class LegacyStoreTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempDirectory _temp = new();
    private readonly ManualClock _clock = new(); // 2026-11-28: alias/doomed is due on 2026-12-09

    public LegacyStoreTests()
    {
        var fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "LegacyStore");
        Directory.CreateDirectory(StorePath, Private | UnixFileMode.UserExecute);
        foreach (var name in new[] { "keystore.json", "keystore.backup.json", "audit.jsonl", "audit.head" })
        {
            File.Copy(Path.Combine(fixture, name), Path.Combine(StorePath, name));
            File.SetUnixFileMode(Path.Combine(StorePath, name), Private);
        }

        File.Copy(Path.Combine(fixture, "store.key"), KeyFile.Path);
        File.SetUnixFileMode(KeyFile.Path, Private);
        Wrapped = File.ReadAllBytes(Path.Combine(fixture, "wrapped.bin"));
        Plaintext = Convert.FromHexString(File.ReadAllText(Path.Combine(fixture, "plaintext.hex")).Trim());
    }

    private string StorePath => _temp.File("store");

    private KeyFileUnlocker KeyFile => new(_temp.File("store.key"));

    private byte[] Wrapped { get; }

    private byte[] Plaintext { get; }

    private static Dictionary<string, string> Context => StoreFixture.Context("legacy");

    [Fact]
    public void An_old_store_verifies_its_records_then_seals_its_audit_key_and_survives_a_re_key()
    {
        Assert.False(ReKeyTests.Body(File.ReadAllBytes(Path.Combine(StorePath, "keystore.json"))).TryGetProperty("auditKey", out _));
        using (var store = SealedKeyStore.Open(StorePath, KeyFile, _clock))
        {
            Assert.Empty(store.VerifyAuditLog().Problems);
            Assert.Equal(Plaintext, ReKeyTests.Decrypt(store, Wrapped, Context)); // a request: the store is written
        }

        foreach (var name in ReKeyTests.CopyNames)
        {
            Assert.True(ReKeyTests.Body(File.ReadAllBytes(Path.Combine(StorePath, name))).TryGetProperty("auditKey", out _));
        }

        var before = ReKeyTests.CopyNames.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(StorePath, n)));
        _clock.Now = new DateTimeOffset(2026, 12, 20, 0, 0, 0, TimeSpan.Zero);
        using (var store = SealedKeyStore.Open(StorePath, KeyFile, _clock))
        {
            Assert.Equal(KeyState.Destroyed, store.DescribeKey("alias/doomed", StoreFixture.Admin).State); // this request re-keys
            Assert.Empty(store.VerifyAuditLog().Problems);
        }

        using (var store = SealedKeyStore.Open(StorePath, KeyFile, _clock))
        {
            var (problems, records) = store.VerifyAuditLog();
            Assert.Empty(problems);
            Assert.True(records > 8); // the fixture's own records are among them
            Assert.Equal(Plaintext, ReKeyTests.Decrypt(store, Wrapped, Context));
        }

        // The old store's slots record no key file path: the key file it was opened with is the one replaced.
        foreach (var (name, bytes) in before)
        {
            File.WriteAllBytes(Path.Combine(StorePath, name), bytes);
        }

        Assert.Equal("UnlockFailed", Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(StorePath, KeyFile, _clock)).ErrorCode);
    }

    public void Dispose() => _temp.Dispose();
}
