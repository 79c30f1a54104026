using System.Security.Cryptography;
using BlockSim.Kmip;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// A keyslot whose key is held by a KMIP key manager: a random 32-byte slot key, encrypted by the manager's
/// AES-256 key (GCM with the slot's salt as additional data where the server takes KMIP 1.4's authenticated
/// encryption, else CBC), wraps the root key. Opening asks the manager for one Decrypt, so no secret that
/// opens the store lies on the host, only the client certificate that the manager lets use its key.
/// </summary>
public sealed class KmipUnlocker : Unlocker
{
    private readonly KmipEndpoint? _endpoint;
    private readonly string? _objectId;

    private KmipUnlocker(KmipEndpoint? endpoint, string? objectId)
    {
        _endpoint = endpoint;
        _objectId = objectId;
    }

    /// <summary>Opens the store through whichever kmip slot it has, reaching each slot's server as the slot records.</summary>
    public static KmipUnlocker Recorded { get; } = new(null, null);

    /// <summary>A new kmip slot under the key <paramref name="objectId"/> on <paramref name="endpoint"/>, or under a new key created and activated there when null.</summary>
    public static KmipUnlocker ForNewSlot(KmipEndpoint endpoint, string? objectId) => new(endpoint, objectId);

    /// <summary>The key the new slot was sealed under (after it was added; the one given, or the one created).</summary>
    public string? ObjectId { get; private set; }

    internal override string SlotType => KeySlotTypes.Kmip;

    internal override KeySlot NewSlot()
    {
        var endpoint = _endpoint ?? throw new InvalidOperationException("A kmip slot is added with a server: KmipUnlocker.ForNewSlot.");
        var slot = new KeySlot { Type = SlotType, Salt = RandomNumberGenerator.GetBytes(16) };
        var slotKey = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            RandomNumberGenerator.Fill(slotKey);
            Use(endpoint, _objectId ?? "(new key)", client =>
            {
                var id = _objectId ?? CreateActiveKey(client);
                var (mode, wrapped) = EncryptSlotKey(client, id, slotKey, slot.Salt);
                slot.Kmip = new KmipSlot
                {
                    Server = endpoint.ToString(),
                    CaFile = Path.GetFullPath(endpoint.CaFile),
                    CertificateFile = Path.GetFullPath(endpoint.CertificateFile),
                    KeyFile = Path.GetFullPath(endpoint.KeyFile),
                    ObjectId = id,
                    Mode = mode,
                    WrappedSlotKey = wrapped.Data,
                    Iv = wrapped.Iv,
                    Tag = wrapped.AuthenticationTag ?? [],
                };
                ObjectId = id;
                return 0;
            });
            return slot;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }
    }

    internal override void DeriveSlotKey(KeySlot slot, Span<byte> slotKey)
    {
        var kmip = slot.Kmip ?? throw new KeyStoreException(KeyStoreErrors.StoreDamaged, "A kmip slot records no key manager.");
        var endpoint = Endpoint(kmip);
        var plain = Use(endpoint, kmip.ObjectId, client => client.Decrypt(kmip.ObjectId, kmip.Ciphertext(), AdditionalData(slot.Salt)));
        try
        {
            if (plain.Length != 32)
            {
                throw new KeyStoreException(KeyStoreErrors.UnlockFailed, $"The KMIP key {kmip.ObjectId} on {kmip.Server} decrypted the slot's key to {plain.Length} bytes, not 32: this slot was not sealed by that key.");
            }

            plain.CopyTo(slotKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Where a slot's key manager is; one that is not well formed is refused before any connection.</summary>
    private static KmipEndpoint Endpoint(KmipSlot kmip)
    {
        try
        {
            return kmip.Endpoint();
        }
        catch (KmipConfigurationException e)
        {
            throw new KeyStoreException(KeyStoreErrors.StoreDamaged, $"A kmip slot records the server '{kmip.Server}', which is not HOST:PORT: {e.Message}", e);
        }
    }

    /// <summary>Binds the wrapped slot key to its slot: a wrapped key moved to another slot does not decrypt.</summary>
    private static byte[] AdditionalData(byte[] salt) => [.. "blocksim-keystore-slot|"u8, .. salt];

    private static string CreateActiveKey(KmipClient client)
    {
        var id = client.CreateAes256Key();
        client.Activate(id);
        return id;
    }

    /// <summary>GCM with the slot's salt as additional data where the server takes it; otherwise CBC (the root wrap's tag still checks the answer).</summary>
    private static (string Mode, KmipCiphertext Wrapped) EncryptSlotKey(KmipClient client, string id, byte[] slotKey, byte[] salt)
    {
        try
        {
            return ("GCM", client.Encrypt(id, slotKey, KmipBlockCipherMode.Gcm, AdditionalData(salt)));
        }
        catch (KmipOperationException e) when (e.Reason is KmipResultReason.InvalidField or KmipResultReason.FeatureNotSupported or KmipResultReason.OperationNotSupported or KmipResultReason.InvalidMessage or KmipResultReason.GeneralFailure)
        {
            return ("CBC", client.Encrypt(id, slotKey, KmipBlockCipherMode.Cbc));
        }
    }

    /// <summary>One connection for one use; every KMIP failure becomes a key-store error saying which server, which key and what went wrong.</summary>
    private static T Use<T>(KmipEndpoint endpoint, string objectId, Func<KmipClient, T> use)
    {
        try
        {
            using var client = KmipClient.Connect(endpoint);
            try
            {
                return use(client);
            }
            catch (KmipOperationException e)
            {
                throw new KeyStoreException(KeyStoreErrors.UnlockFailed, $"{e.Message}{StateOf(client, objectId)} (KMIP key {objectId} on {endpoint})", e);
            }
        }
        catch (KmipUnavailableException e)
        {
            throw new KeyStoreException(KeyStoreErrors.StoreUnavailable, $"The key manager is unavailable, so the kmip slot cannot be used: {e.Message}", e);
        }
        catch (KmipHandshakeException e)
        {
            throw new KeyStoreException(KeyStoreErrors.AccessDenied, e.ServerCertificateRejected ? $"The key manager is not the one the slot trusts: {e.Message}" : $"The key manager refused this host: {e.Message}", e);
        }
        catch (KmipConfigurationException e)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, e.Message, e);
        }
        catch (KmipProtocolException e)
        {
            throw new KeyStoreException(KeyStoreErrors.StoreUnavailable, $"The key manager's answer cannot be used: {e.Message}", e);
        }
    }

    /// <summary>After a refusal, the key's state, when the server tells it: revoked and destroyed keys are the usual cause.</summary>
    private static string StateOf(KmipClient client, string objectId)
    {
        try
        {
            return client.GetState(objectId) switch
            {
                KmipState.Active => "",
                KmipState.PreActive => "; the key is Pre-Active (never activated)",
                KmipState.Deactivated => "; the key was revoked (Deactivated)",
                KmipState.Compromised => "; the key was revoked as compromised",
                { } destroyed => $"; the key is {destroyed}",
            };
        }
        catch (KmipException)
        {
            return "";
        }
    }

    public override string ToString() => _endpoint is null ? "KmipUnlocker(recorded)" : $"KmipUnlocker({_endpoint}, {_objectId ?? "new key"})";
}
