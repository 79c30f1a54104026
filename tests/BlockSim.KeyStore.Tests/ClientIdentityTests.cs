using System.Text.Json;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// Requests a service makes for a network client (the daemon attaching a volume for an NBD client): policies
/// and grants can decide by the client's identity, and the audit record names the service and the client.
/// </summary>
/// <summary>Runs against every medium: a directory (<see cref="ClientIdentityTestsOnFiles"/>) and etcd (<see cref="ClientIdentityTestsOnEtcd"/>).</summary>
public abstract class ClientIdentityTests
{
    protected abstract StoreFixture NewStore();

    // The volume owner is not the key's administrator, so only the grants and statements under test can allow.
    private static KeyRequestContext DaemonFor(string client) => new("user:owner", "blocksim-daemon", "192.0.2.7", client);

    [SkippableFact]
    public void A_policy_condition_on_the_client_identity_allows_one_client_and_an_explicit_deny_refuses_another()
    {
        using var f = NewStore();
        f.Store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[
              {"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":["PutKeyPolicy","GenerateDataKey","GenerateDataKeyWithoutPlaintext"]},
              {"Sid":"AttachForAlice","Effect":"Allow","Principal":"*","Action":"Decrypt",
               "Condition":{"StringEquals":{"InvokedBy":"blocksim-daemon","ClientIdentity":"CN=alice"}}},
              {"Sid":"NeverMallory","Effect":"Deny","Principal":"*","Action":"*",
               "Condition":{"StringEquals":{"ClientIdentity":"CN=mallory"}}}
            ]}
            """, StoreFixture.Admin);
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var key = new byte[64];

        f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=alice"));
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=bob"))).ErrorCode);
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("anonymous"))).ErrorCode);
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=mallory"))).ErrorCode);
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, StoreFixture.DaemonForAdmin)).ErrorCode);
    }

    [SkippableFact]
    public void An_explicit_deny_on_a_client_beats_a_grant()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin);
        f.Store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[
              {"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":"*",
               "Condition":{"StringNotEquals":{"InvokedBy":"blocksim-daemon"}}},
              {"Sid":"NoAnonymousAttach","Effect":"Deny","Principal":"*","Action":"Decrypt",
               "Condition":{"StringEquals":{"ClientIdentity":"anonymous"}}}
            ]}
            """, StoreFixture.Admin);
        var key = new byte[64];

        f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=bob"));  // the grant
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("anonymous"))).ErrorCode);
    }

    [SkippableFact]
    public void A_grant_limited_to_clients_applies_to_those_clients_only()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var grant = f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin, clients: ["CN=alice", "CN=carol"]);
        Assert.Equal(["CN=alice", "CN=carol"], grant.Clients);
        var key = new byte[64];

        f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=alice"));
        f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=carol"));
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=bob"))).ErrorCode);
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, new KeyRequestContext("user:owner", "blocksim-daemon"))).ErrorCode);
        Assert.Equal(["CN=alice", "CN=carol"], f.Reopen().ListGrants(SealedKeyStore.DefaultAlias, StoreFixture.Admin).Single().Clients);
    }

    [SkippableFact]
    public void The_audit_record_names_the_service_the_owner_and_the_client_and_a_refusal_carries_its_error()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin, clients: ["CN=alice"]);
        var key = new byte[64];
        f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=alice"));
        Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, DaemonFor("CN=bob")));

        var decrypts = f.Store.AuditTail(int.MaxValue)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("eventName").GetString() == "Decrypt")
            .ToArray();
        Assert.Equal(2, decrypts.Length);
        Assert.All(decrypts, d =>
        {
            Assert.Equal("blocksim-daemon", d.GetProperty("invokedBy").GetString());
            Assert.Equal("user:owner", d.GetProperty("userIdentity").GetProperty("principal").GetString());
            Assert.Equal("192.0.2.7", d.GetProperty("sourceAddress").GetString());
        });
        Assert.Equal("CN=alice", decrypts[0].GetProperty("userIdentity").GetProperty("clientIdentity").GetString());
        Assert.False(decrypts[0].TryGetProperty("errorCode", out _));
        Assert.Equal("CN=bob", decrypts[1].GetProperty("userIdentity").GetProperty("clientIdentity").GetString());
        Assert.Equal("AccessDeniedException", decrypts[1].GetProperty("errorCode").GetString());
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }
}

public sealed class ClientIdentityTestsOnFiles : ClientIdentityTests
{
    protected override StoreFixture NewStore() => new();
}

[Collection(EtcdCollection.Name)]
public sealed class ClientIdentityTestsOnEtcd(EtcdCluster etcd) : ClientIdentityTests
{
    protected override StoreFixture NewStore() => new(etcd);
}
