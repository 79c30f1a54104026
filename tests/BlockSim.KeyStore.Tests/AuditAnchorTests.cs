namespace BlockSim.KeyStore.Tests;

/// <summary>
/// The store's MAC'd body anchors the audit log's head, so putting back an older copy of the log and its
/// head file (a rollback that the chain and the head alone cannot see) fails verification.
/// </summary>
public class AuditAnchorTests
{
    [Fact]
    public void Rolling_back_the_log_and_its_head_over_three_decrypts_is_detected()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var (log, head) = (f.Store.AuditLogPath, Path.Combine(f.StorePath, "audit.head"));
        File.Copy(log, log + ".old");
        File.Copy(head, head + ".old");
        var kept = File.ReadAllLines(log).Length;
        for (var i = 0; i < 3; i++)
        {
            f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.Admin);
        }

        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        File.Copy(log + ".old", log, overwrite: true);
        File.Copy(head + ".old", head, overwrite: true);

        var problems = f.Reopen().VerifyAuditLog().Problems;
        var problem = Assert.Single(problems);
        Assert.Contains($"log ends at record {kept}, the store's anchor says record {kept + 3}: records {kept + 1}..{kept + 3} are missing", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_log_replaced_by_another_of_the_same_length_is_detected()
    {
        using var f = new StoreFixture();
        var (log, head) = (f.Store.AuditLogPath, Path.Combine(f.StorePath, "audit.head"));
        f.Store.ListKeys(StoreFixture.Admin);
        File.Copy(log, log + ".old");
        File.Copy(head, head + ".old");
        f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin); // the record an attacker wants gone
        File.Copy(log + ".old", log, overwrite: true);
        File.Copy(head + ".old", head, overwrite: true);
        Assert.Contains(f.Store.VerifyAuditLog().Problems, p => p.Contains("anchor", StringComparison.Ordinal));

        // The next request would refill the gap with an innocent record and move the anchor onto it: refused.
        var e = Assert.Throws<KeyStoreException>(() => f.Store.ListKeys(StoreFixture.Alice));
        Assert.Equal("AuditWriteFailed", e.ErrorCode);
        Assert.Contains("rolled back", e.Message, StringComparison.Ordinal);
        Assert.Contains(f.Store.VerifyAuditLog().Problems, p => p.Contains("anchor", StringComparison.Ordinal));
    }

    [Fact]
    public void Records_after_the_anchor_are_reported_as_not_committed_and_the_next_request_says_so_in_the_log()
    {
        using var f = new StoreFixture();
        var primary = Path.Combine(f.StorePath, "keystore.json");
        var backup = Path.Combine(f.StorePath, "keystore.backup.json");
        var (primaryBytes, backupBytes) = (File.ReadAllBytes(primary), File.ReadAllBytes(backup));
        f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        File.WriteAllBytes(primary, primaryBytes); // as if the process died after the record, before the store write
        File.WriteAllBytes(backup, backupBytes);
        var records = File.ReadAllLines(f.Store.AuditLogPath).Length;

        var verification = f.Reopen().VerifyAuditLog();
        Assert.Empty(verification.Problems);
        Assert.Contains(verification.Notes, n => n.Contains($"record {records}", StringComparison.Ordinal) && n.Contains("not committed", StringComparison.Ordinal));

        Assert.Equal(KeyState.Enabled, f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
        var lines = File.ReadAllLines(f.Store.AuditLogPath);
        Assert.Contains("NotCommitted", lines[records], StringComparison.Ordinal); // the follow-up, before the describe
        Assert.Contains($"{records}..{records}", lines[records], StringComparison.Ordinal);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        Assert.Empty(f.Store.VerifyAuditLog().Notes);
    }
}
