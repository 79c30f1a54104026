using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip;

/// <summary>What an Encrypt returned, all of it needed to Decrypt: the mode, the ciphertext, the IV or nonce, and GCM's tag.</summary>
public sealed record KmipCiphertext(KmipBlockCipherMode Mode, byte[] Data, byte[] Iv, byte[]? AuthenticationTag);

/// <summary>What Query says about a server.</summary>
public sealed record KmipServerInfo(string? Vendor, IReadOnlyList<KmipOperation> Operations);

/// <summary>The operations a keyslot needs, each one request and one answer.</summary>
public sealed partial class KmipClient
{
    /// <summary>GCM's tag length here: the full 16 bytes.</summary>
    public const int GcmTagBytes = 16;

    /// <summary>Creates an AES-256 symmetric key for Encrypt and Decrypt (Pre-Active until <see cref="Activate"/>); returns its unique identifier.</summary>
    public string CreateAes256Key() =>
        Call(KmipOperation.Create, CreatePayload(256)).Get(Tag.UniqueIdentifier, TtlvType.TextString).Text();

    /// <summary>Create's request payload: a symmetric AES key of <paramref name="bits"/>, usage Encrypt|Decrypt.</summary>
    internal static TtlvItem CreatePayload(int bits) => TtlvItem.Structure(
        Tag.RequestPayload,
        TtlvItem.Enumeration(Tag.ObjectType, KmipValues.ObjectTypeSymmetricKey),
        TtlvItem.Structure(
            Tag.TemplateAttribute,
            Attribute("Cryptographic Algorithm", TtlvItem.Enumeration(Tag.AttributeValue, KmipValues.AlgorithmAes)),
            Attribute("Cryptographic Length", TtlvItem.Integer(Tag.AttributeValue, bits)),
            Attribute("Cryptographic Usage Mask", TtlvItem.Integer(Tag.AttributeValue, KmipValues.UsageEncrypt | KmipValues.UsageDecrypt))));

    public void Activate(string id) => Call(KmipOperation.Activate, ById(id));

    /// <summary>
    /// Encrypts under the server's key <paramref name="id"/>. GCM binds <paramref name="additionalData"/>
    /// (sent as KMIP 1.4, the first version that carries it); CBC pads with PKCS#5 and takes none. The
    /// server picks the IV.
    /// </summary>
    public KmipCiphertext Encrypt(string id, ReadOnlySpan<byte> plaintext, KmipBlockCipherMode mode, ReadOnlySpan<byte> additionalData = default)
    {
        var gcm = mode == KmipBlockCipherMode.Gcm;
        var payload = Call(
            KmipOperation.Encrypt,
            TtlvItem.Structure(
                Tag.RequestPayload,
                TtlvItem.Text(Tag.UniqueIdentifier, id),
                Parameters(mode),
                TtlvItem.ByteString(Tag.Data, plaintext),
                gcm ? TtlvItem.ByteString(Tag.AuthenticatedEncryptionAdditionalData, additionalData) : null),
            gcm ? KmipMessages.AeadProtocolMinor : KmipMessages.ProtocolMinor);
        var data = payload.Get(Tag.Data, TtlvType.ByteString).Bytes;
        var iv = payload.Find(Tag.IvCounterNonce) is { Type: TtlvType.ByteString } n ? n.Bytes
            : throw new KmipProtocolException($"The KMIP server {Endpoint} encrypted without returning the IV it chose.");
        var tag = gcm ? payload.Get(Tag.AuthenticatedEncryptionTag, TtlvType.ByteString).Bytes : null;
        if (gcm && tag!.Length != GcmTagBytes)
        {
            throw new KmipProtocolException($"The KMIP server {Endpoint} returned a {tag.Length}-byte GCM tag; {GcmTagBytes} were asked for.");
        }

        return new KmipCiphertext(mode, data, iv, tag);
    }

    /// <summary>Decrypts what <see cref="Encrypt"/> returned, with the same additional data for GCM.</summary>
    public byte[] Decrypt(string id, KmipCiphertext ciphertext, ReadOnlySpan<byte> additionalData = default)
    {
        var gcm = ciphertext.Mode == KmipBlockCipherMode.Gcm;
        var payload = Call(
            KmipOperation.Decrypt,
            TtlvItem.Structure(
                Tag.RequestPayload,
                TtlvItem.Text(Tag.UniqueIdentifier, id),
                Parameters(ciphertext.Mode),
                TtlvItem.ByteString(Tag.Data, ciphertext.Data),
                TtlvItem.ByteString(Tag.IvCounterNonce, ciphertext.Iv),
                gcm ? TtlvItem.ByteString(Tag.AuthenticatedEncryptionAdditionalData, additionalData) : null,
                gcm ? TtlvItem.ByteString(Tag.AuthenticatedEncryptionTag, ciphertext.AuthenticationTag ?? []) : null),
            gcm ? KmipMessages.AeadProtocolMinor : KmipMessages.ProtocolMinor);
        return payload.Get(Tag.Data, TtlvType.ByteString).Bytes;
    }

    /// <summary>The object's State attribute, through Get Attributes.</summary>
    public KmipState GetState(string id) =>
        StateIn(Call(KmipOperation.GetAttributes, TtlvItem.Structure(
            Tag.RequestPayload,
            TtlvItem.Text(Tag.UniqueIdentifier, id),
            TtlvItem.Text(Tag.AttributeName, "State"))));

    /// <summary>The State attribute in a Get Attributes answer.</summary>
    internal static KmipState StateIn(TtlvItem payload)
    {
        var state = payload.Items.FirstOrDefault(a => a.Tag == Tag.Attribute && a.Find(Tag.AttributeName) is { Type: TtlvType.TextString } name && name.Text() == "State")
            ?? throw new KmipProtocolException("The KMIP server returned no State attribute.");
        return (KmipState)state.Get(Tag.AttributeValue, TtlvType.Enumeration).Number;
    }

    /// <summary>Revokes the key: it may no longer encrypt, and (on the servers met so far) no longer decrypt either.</summary>
    public void Revoke(string id, KmipRevocationReason reason, string? message = null) =>
        Call(KmipOperation.Revoke, TtlvItem.Structure(
            Tag.RequestPayload,
            TtlvItem.Text(Tag.UniqueIdentifier, id),
            TtlvItem.Structure(
                Tag.RevocationReason,
                TtlvItem.Enumeration(Tag.RevocationReasonCode, (uint)reason),
                message is null ? null : TtlvItem.Text(Tag.RevocationMessage, message)),
            reason == KmipRevocationReason.KeyCompromise ? TtlvItem.DateTime(Tag.CompromiseOccurrenceDate, DateTimeOffset.UtcNow) : null));

    /// <summary>Destroys the key's material on the server (an active key must be revoked first).</summary>
    public void Destroy(string id) => Call(KmipOperation.Destroy, ById(id));

    /// <summary>The server's vendor and the operations it says it supports.</summary>
    public KmipServerInfo Query()
    {
        var payload = Call(KmipOperation.Query, TtlvItem.Structure(
            Tag.RequestPayload,
            TtlvItem.Enumeration(Tag.QueryFunction, (uint)KmipQueryFunction.QueryOperations),
            TtlvItem.Enumeration(Tag.QueryFunction, (uint)KmipQueryFunction.QueryServerInformation)));
        var operations = payload.Items.Where(i => i.Tag == Tag.Operation && i.Type == TtlvType.Enumeration).Select(i => (KmipOperation)(uint)i.Number).ToList();
        var vendor = payload.Find(Tag.VendorIdentification) is { Type: TtlvType.TextString } v ? v.Text() : null;
        return new KmipServerInfo(vendor, operations);
    }

    internal static TtlvItem ById(string id) => TtlvItem.Structure(Tag.RequestPayload, TtlvItem.Text(Tag.UniqueIdentifier, id));

    private static TtlvItem Attribute(string name, TtlvItem value) =>
        TtlvItem.Structure(Tag.Attribute, TtlvItem.Text(Tag.AttributeName, name), value);

    private static TtlvItem Parameters(KmipBlockCipherMode mode) => TtlvItem.Structure(
        Tag.CryptographicParameters,
        TtlvItem.Enumeration(Tag.BlockCipherMode, (uint)mode),
        mode == KmipBlockCipherMode.Cbc ? TtlvItem.Enumeration(Tag.PaddingMethod, (uint)KmipPaddingMethod.Pkcs5) : null,
        TtlvItem.Enumeration(Tag.CryptographicAlgorithm, KmipValues.AlgorithmAes),
        mode == KmipBlockCipherMode.Gcm ? TtlvItem.Integer(Tag.TagLength, GcmTagBytes) : null);
}
