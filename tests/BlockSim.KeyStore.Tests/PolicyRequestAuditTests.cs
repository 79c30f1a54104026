using BlockSim.KeyStore.Audit;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// Testing a policy and replacing one are requests like the others: authorized, and audited whatever the
/// outcome, a malformed document or a lockout included.
/// </summary>
/// <summary>Runs against every medium: a directory (<see cref="PolicyRequestAuditTestsOnFiles"/>) and etcd (<see cref="PolicyRequestAuditTestsOnEtcd"/>).</summary>
public abstract class PolicyRequestAuditTests
{
    protected abstract StoreFixture NewStore();

    private const string Key = SealedKeyStore.DefaultAlias;

    [SkippableFact]
    public void Policy_test_is_audited_with_the_question_and_the_answer()
    {
        using var f = NewStore();
        var keyId = f.Store.DescribeKey(Key, StoreFixture.Admin).KeyId;

        Assert.False(f.Store.TestPolicy(Key, "user:alice", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a"), invokedBy: "blocksim-daemon", clientIdentity: "CN=alice"));
        var denied = f.AuditRecords()[^1];
        Assert.Equal("TestKeyPolicy", denied.GetProperty("eventName").GetString());
        Assert.Equal("user:admin", denied.GetProperty("userIdentity").GetProperty("principal").GetString());
        Assert.Equal(keyId, denied.GetProperty("requestParameters").GetProperty("keyId").GetString());
        Assert.Equal("a", denied.GetProperty("requestParameters").GetProperty("encryptionContext").GetProperty("volumeId").GetString());
        var data = denied.GetProperty("additionalEventData");
        Assert.Equal("user:alice", data.GetProperty("testedPrincipal").GetString());
        Assert.Equal("Decrypt", data.GetProperty("testedAction").GetString());
        Assert.Equal("blocksim-daemon", data.GetProperty("testedInvokedBy").GetString());
        Assert.Equal("CN=alice", data.GetProperty("testedClientIdentity").GetString());
        Assert.Equal("denied", data.GetProperty("answer").GetString());
        Assert.False(denied.TryGetProperty("errorCode", out _));

        Assert.True(f.Store.TestPolicy(Key, "user:admin", "DisableKey", StoreFixture.Admin));
        Assert.Equal("allowed", f.AuditRecords()[^1].GetProperty("additionalEventData").GetProperty("answer").GetString());
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [SkippableFact]
    public void Policy_test_needs_GetKeyPolicy_on_the_key_and_its_refusal_is_audited()
    {
        using var f = NewStore();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.TestPolicy(Key, "user:admin", "Decrypt", StoreFixture.Alice));
        Assert.Equal("AccessDeniedException", e.ErrorCode);
        Assert.Contains("GetKeyPolicy", e.Message, StringComparison.Ordinal);

        var refused = f.AuditRecords()[^1];
        Assert.Equal("TestKeyPolicy", refused.GetProperty("eventName").GetString());
        Assert.Equal("user:alice", refused.GetProperty("userIdentity").GetProperty("principal").GetString());
        Assert.Equal("AccessDeniedException", refused.GetProperty("errorCode").GetString());
        Assert.Equal("user:admin", refused.GetProperty("additionalEventData").GetProperty("testedPrincipal").GetString());
        Assert.False(refused.GetProperty("additionalEventData").TryGetProperty("answer", out _)); // never answered

        // Allowed GetKeyPolicy, alice may ask.
        f.Store.PutKeyPolicy(Key, """
            {"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"*"},{"Effect":"Allow","Principal":"user:alice","Action":"GetKeyPolicy"}]}
            """, StoreFixture.Admin);
        Assert.True(f.Store.TestPolicy(Key, "user:admin", "Decrypt", StoreFixture.Alice));
    }

    [SkippableFact]
    public void Policy_tests_are_never_merged_by_audit_aggregation()
    {
        using var f = NewStore();
        f.Store.ConfigureAudit(new AuditOptions { AggregationWindow = TimeSpan.FromMinutes(1) });
        var before = f.AuditRecords().Count;
        for (var i = 0; i < 3; i++)
        {
            Assert.True(f.Store.TestPolicy(Key, "user:admin", "Decrypt", StoreFixture.Admin));
        }

        Assert.Equal(3, f.AuditRecords().Skip(before).Count(r => r.GetProperty("eventName").GetString() == "TestKeyPolicy"));
    }

    [SkippableTheory]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":["*","Decryptt"]}]}""", "$.Statement[0].Action[1]: unknown action 'Decryptt'")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"*"}""", "$: not valid JSON")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"*","Resurce":"*"}]}""", "$.Statement[0].Resurce: unknown field")]
    public void A_malformed_policy_is_refused_with_one_audit_record_and_nothing_changed(string policy, string said)
    {
        using var f = NewStore();
        var old = f.Store.GetKeyPolicy(Key, StoreFixture.Admin);
        var before = f.AuditRecords().Count;

        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, policy, StoreFixture.Admin));
        Assert.Equal("MalformedPolicyDocumentException", e.ErrorCode);
        Assert.StartsWith(said, e.Message, StringComparison.Ordinal);

        AssertOneRefusedPut(f, before, said);
        Assert.Equal(old, f.Store.GetKeyPolicy(Key, StoreFixture.Admin));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [SkippableFact]
    public void A_lockout_is_refused_with_one_audit_record_and_nothing_changed()
    {
        using var f = NewStore();
        var old = f.Store.GetKeyPolicy(Key, StoreFixture.Admin);
        var before = f.AuditRecords().Count;

        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, """{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"Decrypt"}]}""", StoreFixture.Admin));
        Assert.Equal("MalformedPolicyDocumentException", e.ErrorCode);

        AssertOneRefusedPut(f, before, "The new policy would not allow user:admin to PutKeyPolicy");
        Assert.Equal(old, f.Store.GetKeyPolicy(Key, StoreFixture.Admin));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [SkippableFact]
    public void A_refusal_quotes_only_a_short_piece_of_the_document()
    {
        using var f = NewStore();
        var action = new string('x', 100_000);
        var policy = $$"""{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"{{action}}"}]}""";
        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, policy, StoreFixture.Admin));
        Assert.StartsWith("$.Statement[0].Action: unknown action 'xxx", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Length < 1_000, $"{e.Message.Length} characters");
        Assert.True(f.AuditRecords()[^1].GetProperty("errorMessage").GetString()!.Length < 1_000);
    }

    [SkippableFact]
    public void A_stranger_putting_a_malformed_policy_is_refused_access_first()
    {
        using var f = NewStore();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, "not json", StoreFixture.Alice));
        Assert.Equal("AccessDeniedException", e.ErrorCode);
        Assert.Equal("AccessDeniedException", f.AuditRecords()[^1].GetProperty("errorCode").GetString());
    }

    private static void AssertOneRefusedPut(StoreFixture f, int before, string said)
    {
        var added = f.AuditRecords().Skip(before).ToList();
        var record = Assert.Single(added);
        Assert.Equal("PutKeyPolicy", record.GetProperty("eventName").GetString());
        Assert.Equal("user:admin", record.GetProperty("userIdentity").GetProperty("principal").GetString());
        Assert.Equal("MalformedPolicyDocumentException", record.GetProperty("errorCode").GetString());
        var message = record.GetProperty("errorMessage").GetString()!;
        Assert.StartsWith(said, message, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Statement\"", message, StringComparison.Ordinal); // the reason, not the document
    }
}

public sealed class PolicyRequestAuditTestsOnFiles : PolicyRequestAuditTests
{
    protected override StoreFixture NewStore() => new();
}

[Collection(EtcdCollection.Name)]
public sealed class PolicyRequestAuditTestsOnEtcd(EtcdCluster etcd) : PolicyRequestAuditTests
{
    protected override StoreFixture NewStore() => new(etcd);
}
