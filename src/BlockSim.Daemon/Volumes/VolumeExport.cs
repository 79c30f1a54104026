using BlockSim.KeyStore;
using BlockSim.Nbd.Exports;
using BlockSim.Storage;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;
using BlockSim.Daemon.Service;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Volumes;

/// <summary>
/// An encrypted volume served as an export. The volume is opened and locked when the export is set up
/// (<see cref="HeldVolume"/>) and held until the daemon stops, so its header, where the size and description
/// come from, cannot change while it is served: resize, rewrap and delete are refused by the lock. The key
/// is fetched when the first client chooses the export (attach), and every later client's attach is decided
/// by the key store again, for that client; an attach hands the server the device to serve, so no I/O
/// passes through this type. A refused attach (key disabled, pending deletion, destroyed, or
/// denied by policy or for this client) refuses that client with ERR_POLICY; the next client is asked about
/// afresh, so enabling the key needs no restart. Once unlocked, the volume stays open until the daemon stops,
/// as an attached cloud volume keeps working for clients already attached; disposing zeroes its key.
/// </summary>
/// <remarks>
/// A volume on a shared store (an RBD image) may be held by another host's daemon at start-up: the export is
/// then kept, described from its header read without the lock, and each attach asks for the lock again (so a
/// takeover, or the other daemon stopping, needs no restart here). If this daemon's own lock is taken from
/// it (a takeover elsewhere fences it), the export stops: attaches are refused, and the fenced device fails
/// every request rather than acknowledging writes that never land.
/// </remarks>
internal sealed class VolumeExport : IAttachableExport, IDisposable
{
    private readonly VolumeLocation _location;
    private readonly KeyStoreVolumeKeys _keys;
    private readonly Func<IBlockDevice, IBlockDevice>? _simulation;
    private readonly Func<IBlockDevice, IBlockDevice>? _aboveEncryption;
    private readonly ILogger _logger;
    private readonly string? _description;
    private readonly DeviceTraits _traits;
    private readonly SemaphoreSlim _attach = new(1, 1);
    private readonly VolumeHeader _headerReadUnlocked;
    private HeldVolume? _held;
    private Volume? _volume;
    private BlockDeviceExport? _served;
    private bool _lockLostLogged;

    /// <summary>Opens and locks the volume (no key yet).</summary>
    /// <exception cref="VolumeException">Missing, damaged, held by another process, or not writable where it is to be written.</exception>
    /// <param name="simulation">Layers under the encryption, over the ciphertext.</param>
    /// <param name="aboveEncryption">Layers over the encryption, on plaintext.</param>
    /// <param name="traits">What the device stack will say of itself once built, for an INFO before the first attach.</param>
    public VolumeExport(string name, VolumeLocation location, KeyStoreVolumeKeys keys, ILogger logger, Func<IBlockDevice, IBlockDevice>? simulation = null, bool readOnly = false, string? description = null, Func<IBlockDevice, IBlockDevice>? aboveEncryption = null, DeviceTraits? traits = null)
    {
        _traits = traits ?? DeviceTraits.File;
        Name = name;
        _location = location;
        _keys = keys;
        _simulation = simulation;
        _aboveEncryption = aboveEncryption;
        _logger = logger;
        _description = description;
        IsReadOnly = readOnly;
        IReadOnlyList<string> warnings;
        try
        {
            _held = HeldVolume.Open(location, readOnly);
            (_headerReadUnlocked, warnings) = (_held.Header, _held.Warnings);
        }
        catch (VolumeInUseException e) when (location.IsShared)
        {
            // Another host serves it now; this one may take over later, so the export stays.
            DaemonLog.VolumeHeldElsewhere(logger, name, e.Message);
            (_headerReadUnlocked, warnings) = Volume.ReadHeader(location);
        }

        foreach (var warning in warnings)
        {
            DaemonLog.VolumeWarning(logger, warning);
        }
    }

    /// <inheritdoc cref="VolumeExport(string, VolumeLocation, KeyStoreVolumeKeys, ILogger, Func{IBlockDevice, IBlockDevice}?, bool, string?, Func{IBlockDevice, IBlockDevice}?, DeviceTraits?)"/>
    public VolumeExport(string name, string path, KeyStoreVolumeKeys keys, ILogger logger, Func<IBlockDevice, IBlockDevice>? simulation = null, bool readOnly = false, string? description = null, Func<IBlockDevice, IBlockDevice>? aboveEncryption = null, DeviceTraits? traits = null)
        : this(name, new FileVolumeLocation(path), keys, logger, simulation, readOnly, description, aboveEncryption, traits)
    {
    }

    public string Name { get; }

    /// <summary>The header read at set-up; the lock keeps it the one on disk (while another host holds it, the one read without the lock).</summary>
    public VolumeHeader Header => _held?.Header ?? _headerReadUnlocked;

    /// <summary>Where the volume lives: a path, or rbd:POOL/IMAGE.</summary>
    public string Location => _location.Name;

    /// <summary>True while this daemon holds the volume (its lock), so it may write it.</summary>
    public bool HoldsVolume => _held is not null;

    // Clients read this (LIST, INFO) before anyone has proved who they are: no volume or key ids in it.
    public string? Description => _description ?? $"encrypted volume (aes-xts-plain64, {Header.SectorSize}-byte sectors)";

    public long Size => Header.Capacity;

    public bool IsReadOnly { get; }

    public bool CanMultiConn => true;

    public int MinimumBlockSize => 1;

    public int PreferredBlockSize => Math.Max(4096, Header.SectorSize);

    // The device stack's own answers once it is built (the first attach); before that, what its
    // configuration says it will answer.
    public bool IsRotational => _served?.IsRotational ?? _traits.IsRotational;

    public bool CanTrim => _served?.CanTrim ?? _traits.Has(BlockDeviceCapabilities.Trim);

    public bool CanFastZero => _served?.CanFastZero ?? _traits.Has(BlockDeviceCapabilities.FastZero);

    /// <summary>The attached volume's device (null until a client has attached).</summary>
    public IBlockDevice? Device => _volume?.Device;

    /// <summary>
    /// Every client that chooses the export asks the key store for the volume key, in one path for all:
    /// the store decides for that client (policy conditions and grants on its identity) and audits the
    /// request. The first allowed client's key opens the volume; for later ones it only proved the
    /// permission. Either way the key is zeroed before this returns, and the client is served the one
    /// device every connection shares.
    /// </summary>
    public async ValueTask<NbdAttachment> AttachAsync(NbdClientIdentity client, CancellationToken cancellationToken)
    {
        var keys = _keys.ForClient(client);
        await _attach.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Hold() is { } refusal)
            {
                return NbdAttachment.Refuse(refusal);
            }

            using var key = _held!.UnwrapKey(keys);
            if (_served is null)
            {
                _volume = _held.Unlock(key, _simulation);
                _served = new BlockDeviceExport(Name, _aboveEncryption?.Invoke(_volume.Device) ?? _volume.Device, Description);
                DaemonLog.Attached(_logger, Header.VolumeId, Name, client.ToString());
            }

            return NbdAttachment.Serve(_served);
        }
        catch (VolumeKeyException e)
        {
            // The key store's error code tells the client what kind of refusal it is; its message (key ids,
            // principals) stays in the server log.
            var code = e.InnerException is KeyStoreException { ErrorCode: var errorCode } ? errorCode : "the key was refused";
            return NbdAttachment.Refuse(new NbdRefusal($"{code}{Explain(code)} (the server log has the reason)", e.Message));
        }
        catch (IOException e)
        {
            // IOException messages name files: for the log only.
            return NbdAttachment.Refuse(new NbdRefusal("the volume cannot be opened (the server log has the reason)", $"the volume cannot be opened: {e.Message}"));
        }
        finally
        {
            _attach.Release();
        }
    }

    /// <summary>
    /// Null when this daemon holds the volume's lock and may serve it: taking the lock first where another
    /// host held it at start-up, and refusing once a takeover elsewhere took it from this one.
    /// </summary>
    private NbdRefusal? Hold()
    {
        if (_held is null)
        {
            try
            {
                _held = HeldVolume.Open(_location, IsReadOnly);
            }
            catch (VolumeInUseException e)
            {
                return new NbdRefusal("another server holds the volume's lock and serves it; it is not served here (the server log names the holder)", e.Message);
            }
        }

        if (_held.LockLost is not { } lost)
        {
            return null;
        }

        if (!_lockLostLogged)
        {
            _lockLostLogged = true;
            DaemonLog.VolumeLockLost(_logger, Name, lost);
        }

        return new NbdRefusal("the volume was taken over by another server; this one may no longer write it (the server log has the reason)", lost);
    }

    /// <summary>
    /// What the client can do about a refusal that is not about it: a key store that cannot record or save
    /// (a full disk, most often) refuses every attach, since no key is released without its audit record.
    /// </summary>
    private static string Explain(string code) => code switch
    {
        KeyStoreErrors.AuditWriteFailed => ": the server cannot write its audit log, and releases no key without a record; try again later",
        KeyStoreErrors.StoreWriteFailed => ": the server cannot write its key store; try again later",
        KeyStoreErrors.StoreUnavailable => ": the server cannot reach its key store (etcd), and releases no key it cannot check and record; try again later",
        _ => "",
    };

    /// <summary>At shutdown: makes the attached volume's writes durable (nothing to do before an attach).</summary>
    public ValueTask FlushAsync() => _served?.FlushAsync(CancellationToken.None) ?? ValueTask.CompletedTask;

    public void Dispose()
    {
        _volume?.Dispose();
        _held?.Dispose(); // releases the lock
        _attach.Dispose();
    }
}
