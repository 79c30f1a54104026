using BlockSim.Nbd.Exports;
using BlockSim.KeyStore;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Daemon.Volumes;

/// <summary>
/// Volume keys from the key store. Creating a volume asks for a data key wrapped under the chosen master key
/// with encryption context {volumeId}, and grants the daemon Decrypt on that key for that volume only.
/// Attaching asks the store to Decrypt as the daemon acting for the volume's owner, on behalf of the NBD client
/// that attaches (<see cref="ForClient"/>: its identity and address travel in the request); the store checks
/// the key's state, policy and grants and writes the audit record before the key is released. A command a
/// person runs (import, export) passes <c>unwrapAs</c>: the store then decides on that person's own rights.
/// </summary>
internal sealed class KeyStoreVolumeKeys(IKeyService keys, string keyIdOrAlias = SealedKeyStore.DefaultAlias, KeyRequestContext? unwrapAs = null, NbdClientIdentity? client = null) : IVolumeKeyProvider
{
    public const string DaemonPrincipal = "blocksim-daemon";
    public const string CliPrincipal = "blocksim-cli";

    public WrappedVolumeKey GenerateVolumeKey(Guid volumeId, string owner)
    {
        var context = Context(volumeId);
        var caller = new KeyRequestContext(owner);
        try
        {
            var blob = keys.GenerateDataKeyWithoutPlaintext(keyIdOrAlias, context, 64, caller);
            var (keyId, _) = SealedKeyStore.InspectWrappedKey(blob);
            keys.CreateGrant(keyId, DaemonPrincipal, ["Decrypt"], context, caller, retiringPrincipal: owner);

            return new WrappedVolumeKey(keyId, blob);
        }
        catch (KeyStoreException e)
        {
            throw new VolumeKeyException($"The key store refused a key for volume {volumeId}: {e.ErrorCode}: {e.Message}", e);
        }
    }

    public void UnwrapVolumeKey(Guid volumeId, string owner, WrappedVolumeKey wrapped, Span<byte> key)
    {
        try
        {
            keys.Decrypt(wrapped.Blob, Context(volumeId), key, unwrapAs ?? new KeyRequestContext(owner, DaemonPrincipal, client?.Address, client?.Name));
        }
        catch (KeyStoreException e)
        {
            throw new VolumeKeyException($"{e.ErrorCode}: {e.Message}", e);
        }
    }

    /// <summary>The same keys, with Decrypt made for <paramref name="attaching"/>, the NBD client attaching the volume.</summary>
    public KeyStoreVolumeKeys ForClient(NbdClientIdentity attaching) => new(keys, keyIdOrAlias, unwrapAs, attaching);

    /// <summary>
    /// Re-wraps a volume header's key under the newest version of its master key (or another key), through
    /// the store's ReEncrypt: the volume key never leaves the store in clear and no data is re-encrypted.
    /// </summary>
    public VolumeHeader Rewrap(string volumePath, KeyRequestContext caller, string? destinationKeyIdOrAlias = null) =>
        Rewrap(new FileVolumeLocation(volumePath), caller, destinationKeyIdOrAlias);

    /// <inheritdoc cref="Rewrap(string, KeyRequestContext, string?)"/>
    public VolumeHeader Rewrap(VolumeLocation location, KeyRequestContext caller, string? destinationKeyIdOrAlias = null) =>
        Volume.Rewrap(location, header =>
        {
            try
            {
                var blob = keys.ReEncrypt(header.WrappedKey, Context(header.VolumeId), destinationKeyIdOrAlias, caller);
                return new WrappedVolumeKey(SealedKeyStore.InspectWrappedKey(blob).KeyId, blob);
            }
            catch (KeyStoreException e)
            {
                throw new VolumeKeyException($"The key store refused to re-wrap volume {header.VolumeId}: {e.ErrorCode}: {e.Message}", e);
            }
        });

    private static Dictionary<string, string> Context(Guid volumeId) => new() { ["volumeId"] = volumeId.ToString() };
}
