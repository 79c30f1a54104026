namespace BlockSim.KeyStore.Tests;

/// <summary>
/// A key whose stored policy the current (strict) rules refuse, as a store written before them may hold:
/// every request on it is refused, audited, with the fault's JSON path and the repair; only the key's creator,
/// acting directly, may read the stored text and replace it.
/// </summary>
public class StoredPolicyMigrationTests
{
    private const string Key = SealedKeyStore.DefaultAlias;
    private const string Fault = "$.Statement[1].Action[1]: unknown action 'Decryptt'";

    // Accepted by the lenient parser of earlier versions, which ignored the actions it did not know.
    private const string OldPolicy = """
        {"Statement":[
          {"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":"*"},
          {"Sid":"Alice","Effect":"Allow","Principal":"user:alice","Action":["Decrypt","Decryptt","GetKeyPolicy","PutKeyPolicy"]}
        ]}
        """;

    [Fact]
    public void Every_request_on_the_key_is_refused_naming_the_fault_and_the_repair_and_audited()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(Key, context, 64, StoreFixture.Admin);
        f.Store.CreateGrant(Key, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin);
        f.Store.StorePolicyAsAnOlderVersionMight(Key, OldPolicy, forgetCreator: true);

        var daemonForAlice = new KeyRequestContext("user:alice", "blocksim-daemon");
        var requests = new (string Event, Action Call)[]
        {
            ("Decrypt", () => f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.Admin)),
            ("Decrypt", () => f.Store.Decrypt(wrapped, context, new byte[64], daemonForAlice)), // the grant does not apply either
            ("GenerateDataKeyWithoutPlaintext", () => f.Store.GenerateDataKeyWithoutPlaintext(Key, context, 64, StoreFixture.Admin)),
            ("DescribeKey", () => f.Store.DescribeKey(Key, StoreFixture.Admin)),
            ("DisableKey", () => f.Store.DisableKey(Key, StoreFixture.Admin)),
            ("TestKeyPolicy", () => f.Store.TestPolicy(Key, "user:admin", "Decrypt", StoreFixture.Admin)),
            ("GetKeyPolicy", () => f.Store.GetKeyPolicy(Key, StoreFixture.Alice)), // the old policy allowed alice this
            ("PutKeyPolicy", () => f.Store.PutKeyPolicy(Key, OldPolicy.Replace("Decryptt", "Decrypt", StringComparison.Ordinal), StoreFixture.Alice)),
            ("GetKeyPolicy", () => f.Store.GetKeyPolicy(Key, StoreFixture.DaemonForAdmin)), // the creator, but through a service
        };
        foreach (var (eventName, call) in requests)
        {
            var e = Assert.Throws<KeyStoreException>(call);
            Assert.Equal("KMSInvalidStateException", e.ErrorCode);
            Assert.Contains(Fault, e.Message, StringComparison.Ordinal);
            Assert.Contains("blocksim policy put", e.Message, StringComparison.Ordinal);
            var record = f.AuditRecords()[^1];
            Assert.Equal(eventName, record.GetProperty("eventName").GetString());
            Assert.Equal("KMSInvalidStateException", record.GetProperty("errorCode").GetString());
        }

        Assert.Equal(KeyState.Enabled, f.Store.ListKeys(StoreFixture.Admin).Single(k => k.Aliases.Contains(Key)).State); // nothing changed
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void The_creator_named_by_the_CreateKey_record_reads_and_repairs_it_and_the_key_works_again()
    {
        using var f = new StoreFixture();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(Key, context, 64, StoreFixture.Admin);
        f.Store.StorePolicyAsAnOlderVersionMight(Key, OldPolicy, forgetCreator: true); // a key older than CreatedBy

        Assert.Equal(OldPolicy, f.Store.GetKeyPolicy(Key, StoreFixture.Admin));
        var read = f.AuditRecords()[^1];
        Assert.Equal("GetKeyPolicy", read.GetProperty("eventName").GetString());
        Assert.StartsWith(Fault, read.GetProperty("additionalEventData").GetProperty("unreadableStoredPolicy").GetString(), StringComparison.Ordinal);

        // The repair is held to the rules of any PutKeyPolicy: a malformed one or a lockout is refused.
        Assert.Equal("MalformedPolicyDocumentException", Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, OldPolicy, StoreFixture.Admin)).ErrorCode);
        Assert.Equal("MalformedPolicyDocumentException", Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, """{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"Decrypt"}]}""", StoreFixture.Admin)).ErrorCode);
        Assert.Equal(OldPolicy, f.Store.GetKeyPolicy(Key, StoreFixture.Admin));

        var repaired = OldPolicy.Replace("\"Decryptt\",", "", StringComparison.Ordinal);
        f.Store.PutKeyPolicy(Key, repaired, StoreFixture.Admin);
        var put = f.AuditRecords()[^1];
        Assert.Equal("PutKeyPolicy", put.GetProperty("eventName").GetString());
        Assert.False(put.TryGetProperty("errorCode", out _));
        Assert.True(put.GetProperty("additionalEventData").TryGetProperty("unreadableStoredPolicy", out _));

        f.Store.Decrypt(wrapped, context, new byte[64], StoreFixture.Alice);
        Assert.Equal(repaired, f.Store.GetKeyPolicy(Key, StoreFixture.Admin));
        Assert.False(f.AuditRecords()[^1].TryGetProperty("additionalEventData", out _)); // an ordinary read again
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void Only_the_recorded_creator_may_repair_not_the_administrator_the_unreadable_policy_names()
    {
        using var f = new StoreFixture();
        var bob = new KeyRequestContext("user:bob");
        var carol = new KeyRequestContext("user:carol");
        var key = f.Store.CreateKey("bob's key", bob).KeyId;
        f.Store.PutKeyPolicy(key, """{"Statement":[{"Effect":"Allow","Principal":["user:bob","user:carol"],"Action":"*"}]}""", bob);
        f.Store.StorePolicyAsAnOlderVersionMight(key, """{"Statement":[{"Effect":"Allow","Principal":"user:carol","Action":"*","Resource":"arn:aws:kms:key/1"}]}""", forgetCreator: false);

        var e = Assert.Throws<KeyStoreException>(() => f.Store.GetKeyPolicy(key, carol));
        Assert.Equal("KMSInvalidStateException", e.ErrorCode);
        Assert.Contains("$.Statement[0].Resource", e.Message, StringComparison.Ordinal);
        Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => f.Store.GetKeyPolicy(key, StoreFixture.Admin)).ErrorCode); // the store's administrator is not the key's creator

        f.Store.PutKeyPolicy(key, """{"Statement":[{"Effect":"Allow","Principal":"user:carol","Action":"*","Resource":"*"}]}""", bob, bypassPolicyLockoutSafetyCheck: true);
        Assert.NotNull(f.Store.DescribeKey(key, carol));
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.DescribeKey(key, bob)).ErrorCode); // a parsing policy rules again
    }

    [Fact]
    public void Without_a_record_of_the_creator_nobody_may_repair_and_the_refusal_says_what_to_put_back()
    {
        using var f = new StoreFixture();
        f.Store.ConfigureAudit(new Audit.AuditOptions { SegmentBytes = 1 }); // every record closes its segment
        f.Store.DescribeKey(Key, StoreFixture.Admin);
        f.Store.StorePolicyAsAnOlderVersionMight(Key, OldPolicy, forgetCreator: true);
        var first = f.Store.AuditLogFiles[0]; // the CreateKey record
        File.Move(first, first + ".archived");

        var e = Assert.Throws<KeyStoreException>(() => f.Store.GetKeyPolicy(Key, StoreFixture.Admin));
        Assert.Equal("KMSInvalidStateException", e.ErrorCode);
        Assert.Contains("no CreateKey record", e.Message, StringComparison.Ordinal);
        Assert.Equal("KMSInvalidStateException", f.AuditRecords()[^1].GetProperty("errorCode").GetString());
    }
}
