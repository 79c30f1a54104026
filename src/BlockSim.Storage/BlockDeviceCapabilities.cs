namespace BlockSim.Storage;

/// <summary>
/// What a device can do beyond reading, writing, flushing and zeroing, declared by each layer as nbdkit's
/// <c>can_trim</c> and <c>can_fast_zero</c> callbacks are, so the NBD export advertises only what the whole
/// stack does (a simulated spinning disk has no TRIM, and Linux then sends it no discards).
/// </summary>
[Flags]
public enum BlockDeviceCapabilities
{
    None = 0,

    /// <summary>TRIM deallocates (or at least is accepted); advertised as NBD_FLAG_SEND_TRIM.</summary>
    Trim = 1,

    /// <summary>
    /// A zeroing asked to be fast either is fast or fails at once with <see cref="NotSupportedException"/>,
    /// never doing slow work: advertised as NBD_FLAG_SEND_FAST_ZERO.
    /// </summary>
    FastZero = 2,

    All = Trim | FastZero,
}
