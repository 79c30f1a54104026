using BlockSim.Kmip;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// What a kmip slot keeps: where its key manager is and how to reach it (paths to the CA and the client's
/// certificate and key, never their contents), the KMIP key's id, and the slot key as that key encrypted it.
/// The slot key then wraps the root as in every slot (AES-256-GCM), so whatever the key manager's mode, a
/// wrong or altered answer is caught by that tag.
/// </summary>
internal sealed class KmipSlot
{
    /// <summary>HOST:PORT.</summary>
    public string Server { get; set; } = "";

    public string CaFile { get; set; } = "";

    public string CertificateFile { get; set; } = "";

    public string KeyFile { get; set; } = "";

    public string ObjectId { get; set; } = "";

    /// <summary>"GCM" (the slot's salt as additional data) or "CBC" (PKCS#5 padding), as the server offered.</summary>
    public string Mode { get; set; } = "";

    public byte[] WrappedSlotKey { get; set; } = [];

    public byte[] Iv { get; set; } = [];

    /// <summary>GCM's tag; empty for CBC.</summary>
    public byte[] Tag { get; set; } = [];

    public KmipEndpoint Endpoint()
    {
        var (host, port) = KmipEndpoint.ParseServer(Server);
        return new KmipEndpoint(host, port, CaFile, CertificateFile, KeyFile);
    }

    public KmipCiphertext Ciphertext() =>
        new(Mode == "GCM" ? KmipBlockCipherMode.Gcm : KmipBlockCipherMode.Cbc, WrappedSlotKey, Iv, Mode == "GCM" ? Tag : null);

    /// <summary>Slots are not covered by the body's MAC: a copy with odd values here is skipped, not sent to a server.</summary>
    public bool IsWellFormed() =>
        Mode is "GCM" or "CBC"
        && Server.Length is > 0 and <= 512 && ObjectId.Length is > 0 and <= 256
        && CaFile.Length > 0 && CertificateFile.Length > 0 && KeyFile.Length > 0
        && WrappedSlotKey.Length is >= 32 and <= 64 && Iv.Length is >= 12 and <= 16
        && (Mode == "CBC" || Tag.Length == KmipClient.GcmTagBytes);
}
