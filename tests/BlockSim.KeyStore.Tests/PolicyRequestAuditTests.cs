using BlockSim.KeyStore.Audit;

namespace BlockSim.KeyStore.Tests;

/// <summary>Testing a policy is a request like the others: authorized, and audited whatever the outcome.</summary>
public class PolicyRequestAuditTests
{
    private const string Key = SealedKeyStore.DefaultAlias;

    [Fact]
    public void Policy_test_is_audited_with_the_question_and_the_answer()
    {
        using var f = new StoreFixture();
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

    [Fact]
    public void Policy_test_needs_GetKeyPolicy_on_the_key_and_its_refusal_is_audited()
    {
        using var f = new StoreFixture();
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

    [Fact]
    public void Policy_tests_are_never_merged_by_audit_aggregation()
    {
        using var f = new StoreFixture();
        f.Store.ConfigureAudit(new AuditOptions { AggregationWindow = TimeSpan.FromMinutes(1) });
        var before = f.AuditRecords().Count;
        for (var i = 0; i < 3; i++)
        {
            Assert.True(f.Store.TestPolicy(Key, "user:admin", "Decrypt", StoreFixture.Admin));
        }

        Assert.Equal(3, f.AuditRecords().Skip(before).Count(r => r.GetProperty("eventName").GetString() == "TestKeyPolicy"));
    }
}
