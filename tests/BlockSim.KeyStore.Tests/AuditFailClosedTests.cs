namespace BlockSim.KeyStore.Tests;

/// <summary>
/// A change is committed only with its audit record: when the record cannot be written, every request is
/// refused with AuditWriteFailed and both store copies are left exactly as they were.
/// </summary>
public class AuditFailClosedTests
{
    public static TheoryData<string> Operations() =>
    [
        "CreateKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "RotateKey", "PutKeyPolicy",
        "CreateGrant", "RetireGrant", "CreateAlias", "GenerateDataKeyWithoutPlaintext", "ReEncrypt", "Decrypt",
        "DestroyDueKey", "AddUnlocker",
    ];

    [Theory]
    [MemberData(nameof(Operations))]
    public void A_request_whose_record_cannot_be_written_changes_nothing(string operation)
    {
        using var f = new StoreFixture();
        var s = f.Store;
        var admin = StoreFixture.Admin;
        var context = StoreFixture.Context("v1");
        var customer = s.CreateKey("customer", admin, "alias/customer").KeyId;
        var wrapped = s.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, admin);
        var grant = s.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, admin).GrantId;
        var disabled = s.CreateKey("disabled", admin).KeyId;
        s.DisableKey(disabled, admin);
        var pending = s.CreateKey("pending", admin).KeyId;
        s.ScheduleKeyDeletion(pending, admin, 7);
        if (operation == "DestroyDueKey")
        {
            f.Clock.Now = f.Clock.Now.AddDays(8); // the next request destroys the pending key
        }

        var before = StoreCopies(f);
        var records = File.ReadAllLines(s.AuditLogPath).Length;
        BreakAuditLog(f);
        var key = new byte[64];
        Action request = operation switch
        {
            "CreateKey" => () => s.CreateKey("ghost", admin, "alias/ghost"),
            "EnableKey" => () => s.EnableKey(disabled, admin),
            "DisableKey" => () => s.DisableKey(SealedKeyStore.DefaultAlias, admin),
            "ScheduleKeyDeletion" => () => s.ScheduleKeyDeletion(customer, admin, 7),
            "CancelKeyDeletion" => () => s.CancelKeyDeletion(pending, admin),
            "RotateKey" => () => s.RotateKey(customer, admin),
            "PutKeyPolicy" => () => s.PutKeyPolicy(customer, Policies.KeyPolicy.Default("user:bob").Replace("user:bob", admin.Principal), admin),
            "CreateGrant" => () => s.CreateGrant(customer, "user:bob", ["Decrypt"], null, admin),
            "RetireGrant" => () => s.RetireGrant(grant, admin),
            "CreateAlias" => () => s.CreateAlias("alias/other", customer, admin),
            "GenerateDataKeyWithoutPlaintext" => () => s.GenerateDataKeyWithoutPlaintext(customer, context, 64, admin),
            "ReEncrypt" => () => s.ReEncrypt(wrapped, context, customer, admin),
            "Decrypt" => () => s.Decrypt(wrapped, context, key, admin),
            "DestroyDueKey" => () => s.ListKeys(admin),
            "AddUnlocker" => () => s.AddUnlocker(new Sealing.PassphraseUnlocker("second", 8, 1, 1)),
            _ => throw new ArgumentException(operation),
        };

        var e = Assert.Throws<KeyStoreException>(request);
        Assert.Equal("AuditWriteFailed", e.ErrorCode);
        Assert.Contains("audit record", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, StoreCopies(f)); // nothing committed, in either copy
        Assert.All(key, b => Assert.Equal(0, b));

        RepairAuditLog(f);
        Assert.Equal(records, File.ReadAllLines(s.AuditLogPath).Length); // and nothing recorded as done
        Assert.Empty(f.Reopen().VerifyAuditLog().Problems);
    }

    [Fact]
    public void A_refused_request_whose_record_cannot_be_written_is_refused_as_an_audit_failure()
    {
        using var f = new StoreFixture();
        BreakAuditLog(f);
        var e = Assert.Throws<KeyStoreException>(() => f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Alice));
        Assert.Equal("AuditWriteFailed", e.ErrorCode);
        Assert.Contains("AccessDeniedException", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_change_recorded_but_not_committed_gets_a_follow_up_record_saying_so()
    {
        using var f = new StoreFixture();
        var primary = Path.Combine(f.StorePath, "keystore.json");
        File.Delete(primary);
        Directory.CreateDirectory(primary); // the store write now fails (the backup still opens)

        var e = Assert.Throws<KeyStoreException>(() => f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin));
        Assert.Equal("StoreWriteFailed", e.ErrorCode);
        Assert.Contains("not made", e.Message, StringComparison.Ordinal);
        var records = File.ReadAllLines(f.Store.AuditLogPath).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var (intent, followUp) = (records[^2], records[^1]);
        Assert.Equal("DisableKey", intent.GetProperty("eventName").GetString());
        Assert.False(intent.TryGetProperty("errorCode", out _));
        Assert.Equal("StoreWriteFailed", followUp.GetProperty("errorCode").GetString());
        Assert.Equal(intent.GetProperty("requestId").GetString(), followUp.GetProperty("requestId").GetString());
        Assert.Contains($"record {intent.GetProperty("sequence").GetInt64()} was not committed", followUp.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);

        Directory.Delete(primary);
        Assert.Equal(KeyState.Enabled, f.Reopen().DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
    }

    private static void BreakAuditLog(StoreFixture f)
    {
        File.Move(f.Store.AuditLogPath, f.Store.AuditLogPath + ".moved");
        Directory.CreateDirectory(f.Store.AuditLogPath); // appending to it now fails
    }

    private static void RepairAuditLog(StoreFixture f)
    {
        Directory.Delete(f.Store.AuditLogPath);
        File.Move(f.Store.AuditLogPath + ".moved", f.Store.AuditLogPath);
    }

    private static string[] StoreCopies(StoreFixture f) =>
        new[] { "keystore.json", "keystore.backup.json" }.Select(n => Convert.ToHexString(File.ReadAllBytes(Path.Combine(f.StorePath, n)))).ToArray();
}
