using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.Storage;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Crash;

/// <summary>
/// The image a recording started from, opened for building crash states over it: a copy-on-write device
/// over its stored bytes (where the log's writes go, as ciphertext for a volume), and the plaintext view a
/// checker reads. A volume base (<c>.vol</c>, as <c>record start</c> writes it) is unlocked through the key
/// store, for the caller, like <c>volume export</c>; a raw image is its own plaintext.
/// </summary>
internal sealed class CrashBase : IDisposable
{
    private readonly IDisposable _owner;

    private CrashBase(CopyOnWriteDevice stored, IBlockDevice plaintext, IDisposable owner, string description)
    {
        Stored = stored;
        Plaintext = plaintext;
        _owner = owner;
        Description = description;
    }

    /// <summary>Where a state's writes are laid (the base's stored bytes, changes kept apart).</summary>
    public CopyOnWriteDevice Stored { get; }

    /// <summary>What a checker reads: decrypted for a volume.</summary>
    public IBlockDevice Plaintext { get; }

    public string Description { get; }

    /// <summary>Opens <paramref name="path"/>; a volume base asks <paramref name="openStore"/> for the key store (and so for the caller's right to its key).</summary>
    public static CrashBase Open(string path, Func<(IKeyService Store, KeyRequestContext Caller, IDisposable Owner)> openStore)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"There is no base image {path}: give the image the recording started from (record start writes it beside the log as NAME.base.vol or NAME.base.img).", path);
        }

        if (path.EndsWith(".vol", StringComparison.Ordinal))
        {
            var (store, caller, storeOwner) = openStore();
            CopyOnWriteDevice? stored = null;
            try
            {
                var volume = Volume.Open(path, new KeyStoreVolumeKeys(store, unwrapAs: caller), readOnly: true, underEncryption: data => stored = new CopyOnWriteDevice(data, ownsBase: true));
                return new CrashBase(stored!, volume.Device, new Owners(volume, storeOwner), $"volume {volume.Header.VolumeId} ({path})");
            }
            catch
            {
                storeOwner.Dispose();
                throw;
            }
        }

        var raw = FileBlockDevice.OpenRaw(path, new FileInfo(path).Length, readOnly: true);
        var overRaw = new CopyOnWriteDevice(raw, ownsBase: true);
        return new CrashBase(overRaw, overRaw, overRaw, $"raw image {path}");
    }

    public void Dispose() => _owner.Dispose();

    private sealed class Owners(params IDisposable[] owned) : IDisposable
    {
        public void Dispose()
        {
            foreach (var one in owned)
            {
                one.Dispose();
            }
        }
    }
}
