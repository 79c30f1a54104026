using BlockSim.KeyStore.Policies;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// Policies are parsed strictly (every fault named by its JSON path, never an unhandled exception), accept
/// the shapes AWS writes, and cannot lock their author out unless asked to.
/// </summary>
/// <summary>Runs against every medium: a directory (<see cref="PolicyDocumentTestsOnFiles"/>) and etcd (<see cref="PolicyDocumentTestsOnEtcd"/>).</summary>
public abstract class PolicyDocumentTests
{
    protected abstract StoreFixture NewStore();

    private const string Key = SealedKeyStore.DefaultAlias;

    [SkippableFact]
    public void A_policy_that_would_lock_out_its_author_is_refused_unless_the_check_is_bypassed()
    {
        using var f = NewStore();
        var decryptOnly = """{"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"Decrypt"}]}""";
        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(Key, decryptOnly, StoreFixture.Admin));
        Assert.Equal("MalformedPolicyDocumentException", e.ErrorCode);
        Assert.Contains("user:admin", e.Message, StringComparison.Ordinal);
        Assert.Contains("PutKeyPolicy", e.Message, StringComparison.Ordinal);
        Assert.NotNull(f.Store.DescribeKey(Key, StoreFixture.Admin)); // still administrable

        f.Store.PutKeyPolicy(Key, decryptOnly, StoreFixture.Admin, bypassPolicyLockoutSafetyCheck: true);
        Assert.Throws<KeyStoreException>(() => f.Store.DescribeKey(Key, StoreFixture.Admin)); // locked out, as asked
    }

    [SkippableTheory]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":["kms:PutKeyPolicy","Decryptt"]}]}""", "$.Statement[0].Action[1]", "Decryptt")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}]}""", "$.Statement[0].Action", "Encrypt")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"*"}]}""", "$.Statement[0].Principal.Service", "AWS")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":{"AWS":7},"Action":"*"}]}""", "$.Statement[0].Principal.AWS", "string")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"kms:EncryptionContext:volumeId":1}}}]}""", "$.Statement[0].Condition.StringEquals.kms:EncryptionContext:volumeId", "string")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"InvokedBy":"x"}}}]}""", "$.Statement[0].Condition.StringLike", "StringEquals")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"kms:CallerAccount":"1"}}}]}""", "$.Statement[0].Condition.StringEquals.kms:CallerAccount", "EncryptionContext")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":["x"]}}]}""", "$.Statement[0].Condition.StringEquals", "object")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:x"}]}""", "$.Statement[0].Resource", "*")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"Decrypt"}]}""", "$.Statement[0].NotAction", "not supported")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Action":"*"}]}""", "$.Statement[0]", "Principal")]
    [InlineData("""{"Statement":[{"Effect":"Permit","Principal":"*","Action":"*"}]}""", "$.Statement[0].Effect", "Allow or Deny")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":[]}]}""", "$.Statement[0].Action", "empty")]
    [InlineData("""{"Statment":[]}""", "$.Statment", "unknown")]
    [InlineData("""[1,2]""", "$", "object")]
    [InlineData("""{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}""", "$", "not valid JSON")]
    public void A_malformed_policy_is_refused_naming_where(string json, string path, string said)
    {
        var e = Assert.Throws<KeyStoreException>(() => KeyPolicy.Parse(json));
        Assert.Equal("MalformedPolicyDocumentException", e.ErrorCode);
        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(said, e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AWS_shaped_policies_are_accepted_as_AWS_writes_them()
    {
        using var f = NewStore();
        var policy = """
            {
              "Version": "2012-10-17",
              "Id": "key-policy-1",
              "Statement": [
                { "Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": ["user:admin"]}, "Action": "kms:*", "Resource": "*" },
                { "Sid": "Describe", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Describe*", "kms:GetKeyPolicy"], "Resource": ["*"] },
                { "Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "user:bob"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                  "Condition": {"StringEquals": {"kms:EncryptionContext:volumeId": ["a", "b"]}} },
                { "Sid": "NotFromThere", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
                  "Condition": {"StringEquals": {"SourceAddress": ["192.0.2.7", "192.0.2.8"]}} }
              ]
            }
            """;
        f.Store.PutKeyPolicy(Key, policy, StoreFixture.Admin);

        Assert.True(f.Store.TestPolicy(Key, "user:carol", "DescribeKey", StoreFixture.Admin));
        Assert.False(f.Store.TestPolicy(Key, "user:carol", "DisableKey", StoreFixture.Admin));
        Assert.True(f.Store.TestPolicy(Key, "user:bob", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a")));
        Assert.True(f.Store.TestPolicy(Key, "user:bob", "GenerateDataKey", StoreFixture.Admin, StoreFixture.Context("b")));
        Assert.False(f.Store.TestPolicy(Key, "user:bob", "Decrypt", StoreFixture.Admin, StoreFixture.Context("c"))); // any of a, b: not c
        Assert.False(f.Store.TestPolicy(Key, "user:bob", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a"), sourceAddress: "192.0.2.8"));
        Assert.True(f.Store.TestPolicy(Key, "user:admin", "PutKeyPolicy", StoreFixture.Admin));
    }

    [SkippableFact]
    public void StringNotEquals_with_a_list_means_none_of_them()
    {
        var policy = KeyPolicy.Parse("""
            {"Statement":[{"Effect":"Allow","Principal":"*","Action":"Decrypt","Condition":{"StringNotEquals":{"ClientIdentity":["CN=eve","anonymous"]}}}]}
            """);
        Assert.Equal(PolicyDecision.Allow, policy.Evaluate(new PolicyRequest("p", "Decrypt", null, null, null, "CN=alice")));
        Assert.Equal(PolicyDecision.NotApplicable, policy.Evaluate(new PolicyRequest("p", "Decrypt", null, null, null, "anonymous")));
    }
}

public sealed class PolicyDocumentTestsOnFiles : PolicyDocumentTests
{
    protected override StoreFixture NewStore() => new();
}

[Collection(EtcdCollection.Name)]
public sealed class PolicyDocumentTestsOnEtcd(EtcdCluster etcd) : PolicyDocumentTests
{
    protected override StoreFixture NewStore() => new(etcd);
}
