namespace BlockSim.KeyStore.Tests;

/// <summary>
/// The audit log across crashes and concurrent writers. An append is two durable writes (the record, then
/// the head), so a crash between them leaves one recorded request the head does not know yet; a crash in
/// the middle of the record leaves a line without its newline. Both are states a SIGKILL produces (the
/// key-store crash test found the first), and neither may turn into "tampered" or break the chain.
/// </summary>
public class AuditCrashTests
{
    [Fact]
    public void A_crash_between_the_record_and_the_head_verifies_and_the_next_request_catches_up()
    {
        using var f = new StoreFixture();
        var head = HeadPath(f);
        f.Store.ListKeys(StoreFixture.Admin);
        var before = File.ReadAllBytes(head);
        f.Store.ListKeys(StoreFixture.Admin);
        File.WriteAllBytes(head, before); // as if killed after the record was flushed, before the head was

        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        f.Store.ListKeys(StoreFixture.Admin);
        var (problems, records) = f.Store.VerifyAuditLog();
        Assert.Empty(problems);
        Assert.Equal(File.ReadAllLines(f.Store.AuditLogPath).Length, records);
        Assert.Equal(records, long.Parse(File.ReadAllText(head).Split(' ')[0]));
    }

    [Fact]
    public void A_record_cut_short_by_a_crash_is_dropped_and_the_chain_goes_on()
    {
        using var f = new StoreFixture();
        f.Store.ListKeys(StoreFixture.Admin);
        var records = File.ReadAllLines(f.Store.AuditLogPath).Length;
        File.AppendAllText(f.Store.AuditLogPath, "{\"sequence\":99,\"eventTi"); // no newline: never acknowledged

        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        f.Store.ListKeys(StoreFixture.Admin);
        Assert.Equal(records + 1, File.ReadAllLines(f.Store.AuditLogPath).Length);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void A_lagging_head_does_not_excuse_an_edited_last_record()
    {
        using var f = new StoreFixture();
        var head = HeadPath(f);
        f.Store.ListKeys(StoreFixture.Admin);
        var before = File.ReadAllBytes(head);
        f.Store.ListKeys(StoreFixture.Admin);
        File.WriteAllBytes(head, before);
        var lines = File.ReadAllLines(f.Store.AuditLogPath);
        lines[^1] = lines[^1].Replace("ListKeys", "ListKeyz", StringComparison.Ordinal);
        File.WriteAllLines(f.Store.AuditLogPath, lines);

        Assert.NotEmpty(f.Store.VerifyAuditLog().Problems);
        // The edited record is not rolled into the head, and the store's anchor (past the head) refuses the request.
        Assert.Throws<KeyStoreException>(() => f.Store.ListKeys(StoreFixture.Admin));
        Assert.NotEmpty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public async Task Two_processes_appending_at_once_keep_one_unbroken_chain()
    {
        // Two store instances on one directory stand for the daemon and a CLI command: they share only the files.
        using var f = new StoreFixture();
        using var other = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock);
        var stores = new[] { f.Store, other };
        await Task.WhenAll(stores.Select(store => Task.Run(() =>
        {
            for (var i = 0; i < 60; i++)
            {
                store.ListKeys(StoreFixture.Admin);
            }
        })));

        var (problems, records) = f.Store.VerifyAuditLog();
        Assert.Empty(problems);
        Assert.True(records >= 120);
    }

    private static string HeadPath(StoreFixture f) => Path.Combine(Path.GetDirectoryName(f.Store.AuditLogPath)!, "audit.head");
}
