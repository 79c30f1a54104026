namespace BlockSim.KeyStore;

/// <summary>
/// The envelope-encryption calls the data path needs. The embedded sealed store implements it; an external
/// KMS (KMIP, a cloud KMS) could stand in without touching volumes or the NBD server.
/// </summary>
public interface IKeyService
{
    /// <summary>A new random data key of <paramref name="bytes"/> bytes, returned only wrapped.</summary>
    byte[] GenerateDataKeyWithoutPlaintext(string keyIdOrAlias, IReadOnlyDictionary<string, string> encryptionContext, int bytes, KeyRequestContext context);

    /// <summary>Unwraps a data key into <paramref name="plaintext"/>; the caller zeroes it after use.</summary>
    void Decrypt(byte[] wrapped, IReadOnlyDictionary<string, string> encryptionContext, Span<byte> plaintext, KeyRequestContext context);

    /// <summary>Moves a wrapped key to the newest version of its key, or to another key, without exposing it.</summary>
    byte[] ReEncrypt(byte[] wrapped, IReadOnlyDictionary<string, string> encryptionContext, string? destinationKeyIdOrAlias, KeyRequestContext context);

    KeyDescription DescribeKey(string keyIdOrAlias, KeyRequestContext context);

    /// <summary>
    /// A narrow, revocable permission: <paramref name="grantee"/> may do <paramref name="operations"/> with the
    /// key when the request's encryption context holds <paramref name="encryptionContextEquals"/>. The daemon
    /// grants itself Decrypt for each volume it creates, so a service that stands in must be able to grant.
    /// </summary>
    GrantInfo CreateGrant(
        string keyIdOrAlias,
        string grantee,
        IReadOnlyList<string> operations,
        IReadOnlyDictionary<string, string>? encryptionContextEquals,
        KeyRequestContext context,
        string? retiringPrincipal = null,
        IReadOnlyList<string>? clients = null);
}
