using BlockSim.Storage;

namespace BlockSim.Daemon.Volumes;

/// <summary>
/// What a volume's device stack will say of itself, known from its configuration before the key opens it:
/// a client may ask INFO (nbdinfo does) before anyone has attached, and must hear what GO will say.
/// </summary>
internal readonly record struct DeviceTraits(bool IsRotational, BlockDeviceCapabilities Capabilities)
{
    /// <summary>An encrypted volume file with no simulation over it: not rotational, trims and zeroes fast.</summary>
    public static DeviceTraits File => new(IsRotational: false, BlockDeviceCapabilities.All);

    public bool Has(BlockDeviceCapabilities capability) => (Capabilities & capability) == capability;
}
