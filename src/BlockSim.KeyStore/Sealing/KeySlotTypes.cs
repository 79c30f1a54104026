namespace BlockSim.KeyStore.Sealing;

/// <summary>The kinds of keyslot, as the store file and <c>keystore slot list</c> name them.</summary>
public static class KeySlotTypes
{
    /// <summary>A 32-byte key file (0600) wraps the slot key.</summary>
    public const string KeyFile = "keyfile";

    /// <summary>A passphrase, stretched by Argon2id.</summary>
    public const string Passphrase = "passphrase";

    /// <summary>A key held by a KMIP key manager, one Decrypt away.</summary>
    public const string Kmip = "kmip";
}
