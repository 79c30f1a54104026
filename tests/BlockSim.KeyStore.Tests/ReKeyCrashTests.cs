namespace BlockSim.KeyStore.Tests;

/// <summary>
/// A re-key stopped between its durable steps, as a crash would stop it: at every point some key file
/// (the old one, or its <c>.next</c>) opens the current store, and the next open lands on one state.
/// </summary>
public class ReKeyCrashTests
{
    private sealed class SimulatedCrash : Exception;

    [Theory]
    [InlineData("key-files-written", false)] // the new key file is written, no store copy yet: not committed
    [InlineData("primary-written", true)] // the primary is sealed for the new key file, the backup is not
    [InlineData("store-written", true)] // both copies are, the key file is not renamed yet
    public void A_crash_between_the_steps_of_a_re_key_leaves_a_store_the_next_open_recovers(string point, bool committed)
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v1");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var expected = ReKeyTests.Decrypt(f.Store, wrapped, context);
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        f.Store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        var before = ReKeyTests.Copies(f);
        var oldKeyFile = File.ReadAllBytes(f.KeyFile.Path);
        f.Clock.Now = f.Clock.Now.AddDays(8);
        f.Store.CrashPoint = p =>
        {
            if (p == point)
            {
                throw new SimulatedCrash();
            }
        };

        Assert.Throws<SimulatedCrash>(() => f.Store.ListKeys(StoreFixture.Admin));
        Assert.True(File.Exists(f.KeyFile.Path + ".next"));
        Assert.Equal(oldKeyFile, File.ReadAllBytes(f.KeyFile.Path));

        var store = f.Reopen(); // with the key file's path, as the daemon and the CLI do
        Assert.False(File.Exists(f.KeyFile.Path + ".next"));
        Assert.Equal(committed, !oldKeyFile.AsSpan().SequenceEqual(File.ReadAllBytes(f.KeyFile.Path)));
        Assert.Empty(store.CheckCopies()); // an open that finishes a rename rewrites both copies under the new root
        foreach (var (_, copy) in ReKeyTests.Copies(f))
        {
            var key = ReKeyTests.Body(copy).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("keyId").GetString() == doomed);
            Assert.Equal(committed ? "Destroyed" : "PendingDeletion", key.GetProperty("state").GetString());
        }

        Assert.Equal(expected, ReKeyTests.Decrypt(store, wrapped, context));
        Assert.Empty(store.VerifyAuditLog().Problems);

        // Not committed: the next request destroys the key after all, with a re-key of its own.
        Assert.Equal(KeyState.Destroyed, store.DescribeKey(doomed, StoreFixture.Admin).State);
        Assert.NotEqual(oldKeyFile, File.ReadAllBytes(f.KeyFile.Path));

        // Either way, the copies from before no longer open with the key file there is now.
        store.Dispose();
        foreach (var (name, bytes) in before)
        {
            File.WriteAllBytes(Path.Combine(f.StorePath, name), bytes);
        }

        Assert.Equal("UnlockFailed", Assert.Throws<KeyStoreException>(() => SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock)).ErrorCode);
    }

    [Fact]
    public void A_crash_after_the_commit_is_finished_by_another_process_that_holds_the_store_open()
    {
        using var f = new StoreFixture();
        using var daemon = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock);
        var doomed = f.Store.CreateKey("doomed", StoreFixture.Admin).KeyId;
        f.Store.ScheduleKeyDeletion(doomed, StoreFixture.Admin, 7);
        f.Clock.Now = f.Clock.Now.AddDays(8);
        f.Store.CrashPoint = p => throw new SimulatedCrash();
        Assert.Throws<SimulatedCrash>(() => f.Store.ListKeys(StoreFixture.Admin)); // stops after writing KEYFILE.next
        f.Store.CrashPoint = p =>
        {
            if (p == "store-written")
            {
                throw new SimulatedCrash();
            }
        };

        Assert.Throws<SimulatedCrash>(() => f.Store.ListKeys(StoreFixture.Admin)); // the leftover .next is replaced; this one stops before its rename
        Assert.True(File.Exists(f.KeyFile.Path + ".next"));

        // The daemon's root is the old one; its next request follows the re-key and finishes the rename.
        Assert.Equal(KeyState.Destroyed, daemon.DescribeKey(doomed, StoreFixture.Admin).State);
        Assert.False(File.Exists(f.KeyFile.Path + ".next"));
        Assert.Empty(daemon.CheckCopies());
        Assert.Empty(daemon.VerifyAuditLog().Problems);
    }
}
