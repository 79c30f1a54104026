namespace BlockSim.Kmip.Tests;

/// <summary>The client against PyKMIP's server: every operation a keyslot needs, and each way it can be refused.</summary>
[Collection(PyKmipCollection.Name)]
public class KmipClientTests(PyKmipServer server)
{
    private static readonly byte[] s_secret = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    private string ActiveKey(KmipClient client)
    {
        var id = client.CreateAes256Key();
        Assert.Equal(KmipState.PreActive, client.GetState(id));
        client.Activate(id);
        Assert.Equal(KmipState.Active, client.GetState(id));
        return id;
    }

    [SkippableFact]
    public void Gcm_round_trip_binds_the_additional_data()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        var id = ActiveKey(client);
        var wrapped = client.Encrypt(id, s_secret, KmipBlockCipherMode.Gcm, "slot-1"u8);
        Assert.Equal(KmipClient.GcmTagBytes, wrapped.AuthenticationTag!.Length);
        Assert.NotEqual(s_secret, wrapped.Data);
        Assert.Equal(s_secret, client.Decrypt(id, wrapped, "slot-1"u8));
        var e = Assert.Throws<KmipOperationException>(() => client.Decrypt(id, wrapped, "slot-2"u8));
        Assert.Equal(KmipResultReason.GeneralFailure, e.Reason); // PyKMIP reports a failed tag check so
    }

    [SkippableFact]
    public void Cbc_round_trip()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        var id = ActiveKey(client);
        var wrapped = client.Encrypt(id, s_secret, KmipBlockCipherMode.Cbc);
        Assert.Equal(48, wrapped.Data.Length); // 32 bytes and a block of PKCS#5 padding
        Assert.Equal(16, wrapped.Iv.Length);
        Assert.Equal(s_secret, client.Decrypt(id, wrapped));
    }

    [SkippableFact]
    public void Revoked_and_destroyed_keys_are_refused_with_their_reason()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        var id = ActiveKey(client);
        var wrapped = client.Encrypt(id, s_secret, KmipBlockCipherMode.Gcm, "x"u8);
        client.Revoke(id, KmipRevocationReason.CessationOfOperation, "test");
        Assert.Equal(KmipState.Deactivated, client.GetState(id));
        var revoked = Assert.Throws<KmipOperationException>(() => client.Decrypt(id, wrapped, "x"u8));
        Assert.Equal(KmipResultReason.PermissionDenied, revoked.Reason);
        Assert.Contains("Active state", revoked.Message, StringComparison.Ordinal);
        client.Destroy(id);
        var destroyed = Assert.Throws<KmipOperationException>(() => client.GetState(id));
        Assert.Equal(KmipResultReason.ItemNotFound, destroyed.Reason);
    }

    [SkippableFact]
    public void An_active_key_is_not_destroyed_and_a_compromised_one_changes_state()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        var id = ActiveKey(client);
        Assert.Equal(KmipResultReason.PermissionDenied, Assert.Throws<KmipOperationException>(() => client.Destroy(id)).Reason);
        client.Revoke(id, KmipRevocationReason.KeyCompromise);
        Assert.Equal(KmipState.Compromised, client.GetState(id));
    }

    [SkippableFact]
    public void Another_certificate_may_not_use_the_key()
    {
        server.Require();
        string id;
        KmipCiphertext wrapped;
        using (var owner = KmipClient.Connect(server.Endpoint("host-a")))
        {
            id = ActiveKey(owner);
            wrapped = owner.Encrypt(id, s_secret, KmipBlockCipherMode.Gcm, "x"u8);
        }

        using var other = KmipClient.Connect(server.Endpoint("host-b"));
        var e = Assert.Throws<KmipOperationException>(() => other.Decrypt(id, wrapped, "x"u8));
        Assert.Equal(KmipResultReason.PermissionDenied, e.Reason);
    }

    [SkippableFact]
    public void A_certificate_from_another_ca_fails_the_handshake()
    {
        server.Require();
        var e = Assert.Throws<KmipHandshakeException>(() =>
        {
            using var client = KmipClient.Connect(server.Endpoint("stranger"));
            client.Query(); // a TLS 1.3 server may only say so at the first read
        });
        Assert.Contains(server.Endpoint("stranger").CertificateFile, e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_server_certificate_from_another_ca_is_refused()
    {
        server.Require();
        var endpoint = server.Endpoint() with { CaFile = server.OtherCaFile };
        var e = Assert.Throws<KmipHandshakeException>(() => KmipClient.Connect(endpoint));
        Assert.Contains("does not chain", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Query_names_the_operations_a_slot_needs()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        var info = client.Query();
        Assert.Subset(info.Operations.ToHashSet(), new HashSet<KmipOperation> { KmipOperation.Create, KmipOperation.Activate, KmipOperation.Encrypt, KmipOperation.Decrypt, KmipOperation.GetAttributes, KmipOperation.Revoke, KmipOperation.Destroy });
    }

    [SkippableFact]
    public void Unknown_ids_are_item_not_found()
    {
        server.Require();
        using var client = KmipClient.Connect(server.Endpoint());
        Assert.Equal(KmipResultReason.ItemNotFound, Assert.Throws<KmipOperationException>(() => client.GetState("999999")).Reason);
    }

    [SkippableFact]
    public void Nobody_listening_is_unavailable()
    {
        server.Require();
        var endpoint = server.Endpoint() with { Port = PyKmipServer.FreePort() };
        Assert.Throws<KmipUnavailableException>(() => KmipClient.Connect(endpoint));
    }

    [SkippableFact]
    public void A_missing_key_file_is_a_configuration_error()
    {
        server.Require();
        var e = Assert.Throws<KmipConfigurationException>(() => KmipClient.Connect(server.Endpoint() with { KeyFile = "/nonexistent/key.pem" }));
        Assert.Contains("/nonexistent/key.pem", e.Message, StringComparison.Ordinal);
    }
}
