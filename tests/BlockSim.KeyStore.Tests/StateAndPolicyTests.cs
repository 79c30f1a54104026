namespace BlockSim.KeyStore.Tests;

/// <summary>Runs against every medium: a directory (<see cref="StateAndPolicyTestsOnFiles"/>) and etcd (<see cref="StateAndPolicyTestsOnEtcd"/>).</summary>
public abstract class StateAndPolicyTests
{
    protected abstract StoreFixture NewStore();

    [SkippableFact]
    public void Key_states_move_as_a_cloud_kms_does()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("v");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var key = new byte[64];

        Assert.Equal(KeyState.Disabled, f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
        Assert.Equal("DisabledException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, StoreFixture.Admin)).ErrorCode);
        Assert.Equal("DisabledException", Assert.Throws<KeyStoreException>(() => f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin)).ErrorCode);

        f.Store.EnableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        f.Store.Decrypt(wrapped, context, key, StoreFixture.Admin);

        var pending = f.Store.ScheduleKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        Assert.Equal(KeyState.PendingDeletion, pending.State);
        Assert.Equal(f.Clock.Now.AddDays(30), pending.DeletionDate);
        Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, key, StoreFixture.Admin)).ErrorCode);
        Assert.Equal("KMSInvalidStateException", Assert.Throws<KeyStoreException>(() => f.Store.EnableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin)).ErrorCode);

        Assert.Equal(KeyState.Disabled, f.Store.CancelKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin).State);
        f.Store.EnableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        f.Store.Decrypt(wrapped, context, key, StoreFixture.Admin);
    }

    [SkippableTheory]
    [InlineData(6)]
    [InlineData(31)]
    public void A_deletion_window_outside_7_to_30_days_is_refused(int days)
    {
        using var f = NewStore();
        Assert.Equal("ValidationException", Assert.Throws<KeyStoreException>(() => f.Store.ScheduleKeyDeletion(SealedKeyStore.DefaultAlias, StoreFixture.Admin, days)).ErrorCode);
    }

    [SkippableFact]
    public void Without_an_allow_the_answer_is_deny()
    {
        using var f = NewStore();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, StoreFixture.Context("v"), 64, StoreFixture.Alice));
        Assert.Equal("AccessDeniedException", e.ErrorCode);
        Assert.Contains("user:alice", e.Message);
    }

    [SkippableFact]
    public void Conditions_on_the_encryption_context_and_explicit_deny_win()
    {
        using var f = NewStore();
        f.Store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[
              {"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":"*"},
              {"Sid":"AliceVolumeA","Effect":"Allow","Principal":"user:alice","Action":["kms:Decrypt","GenerateDataKey"],
               "Condition":{"StringEquals":{"EncryptionContext:volumeId":"a"}}},
              {"Sid":"NeverViaDaemonX","Effect":"Deny","Principal":"*","Action":"Decrypt",
               "Condition":{"StringEquals":{"InvokedBy":"daemon-x"}}}
            ]}
            """, StoreFixture.Admin);
        Assert.True(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a")));
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "Decrypt", StoreFixture.Admin, StoreFixture.Context("b")));
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "DisableKey", StoreFixture.Admin));
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a"), invokedBy: "daemon-x"));
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:admin", "Decrypt", StoreFixture.Admin, StoreFixture.Context("a"), invokedBy: "daemon-x")); // deny beats the admin's allow

        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, StoreFixture.Context("a"), 64, StoreFixture.Alice);
        f.Store.Decrypt(wrapped, StoreFixture.Context("a"), new byte[64], StoreFixture.Alice);
    }

    [SkippableFact]
    public void A_malformed_policy_is_refused_and_the_old_one_kept()
    {
        using var f = NewStore();
        var e = Assert.Throws<KeyStoreException>(() => f.Store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """{"Statement":[{"Effect":"Maybe"}]}""", StoreFixture.Admin));
        Assert.Equal("MalformedPolicyDocumentException", e.ErrorCode);
        Assert.True(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:admin", "Decrypt", StoreFixture.Admin));
    }

    [SkippableFact]
    public void A_grant_allows_exactly_its_operations_and_context_until_retired()
    {
        using var f = NewStore();
        var context = StoreFixture.Context("vol-1");
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, context, 64, StoreFixture.Admin);
        var grant = f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], context, StoreFixture.Admin, retiringPrincipal: "user:admin");
        var daemonForAlice = new KeyRequestContext("user:alice", "blocksim-daemon");

        f.Store.Decrypt(wrapped, context, new byte[64], daemonForAlice);
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "Decrypt", StoreFixture.Admin, context)); // not without the daemon
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "Decrypt", StoreFixture.Admin, StoreFixture.Context("vol-2"), "blocksim-daemon"));
        Assert.False(f.Store.TestPolicy(SealedKeyStore.DefaultAlias, "user:alice", "GenerateDataKey", StoreFixture.Admin, context, "blocksim-daemon"));
        Assert.Single(f.Store.ListGrants(SealedKeyStore.DefaultAlias, StoreFixture.Admin));

        f.Store.RetireGrant(grant.GrantId, StoreFixture.Admin);
        Assert.Equal("AccessDeniedException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, context, new byte[64], daemonForAlice)).ErrorCode);
        Assert.Empty(f.Store.ListGrants(SealedKeyStore.DefaultAlias, StoreFixture.Admin));
    }

    [SkippableFact]
    public void Aliases_are_unique_and_name_keys()
    {
        using var f = NewStore();
        var key = f.Store.CreateKey("k", StoreFixture.Admin, "alias/one");
        f.Store.CreateAlias("alias/two", "alias/one", StoreFixture.Admin);
        Assert.Equal(key.KeyId, f.Store.DescribeKey("alias/two", StoreFixture.Admin).KeyId);
        Assert.Equal("AlreadyExistsException", Assert.Throws<KeyStoreException>(() => f.Store.CreateAlias("alias/two", SealedKeyStore.DefaultAlias, StoreFixture.Admin)).ErrorCode);
        Assert.Equal("NotFoundException", Assert.Throws<KeyStoreException>(() => f.Store.DescribeKey("alias/none", StoreFixture.Admin)).ErrorCode);
    }
}

public sealed class StateAndPolicyTestsOnFiles : StateAndPolicyTests
{
    protected override StoreFixture NewStore() => new();
}

[Collection(EtcdCollection.Name)]
public sealed class StateAndPolicyTestsOnEtcd(EtcdCluster etcd) : StateAndPolicyTests
{
    protected override StoreFixture NewStore() => new(etcd);
}
