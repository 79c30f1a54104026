namespace BlockSim.Nbd.Exports;

/// <summary>
/// What the server says about an export before a client has attached it: its name for LIST, and what INFO
/// and GO answer (size, description, block sizes, the transmission flags these make). An entry of the
/// server's <see cref="Server.ExportRegistry"/> is either an <see cref="INbdExport"/>, which serves itself,
/// or an <see cref="IAttachableExport"/>, which hands over the export to serve when a client attaches.
/// </summary>
public interface INbdExportInfo
{
    string Name { get; }

    string? Description { get; }

    long Size { get; }

    bool IsReadOnly { get; }

    /// <summary>True when a FLUSH on one connection makes writes from every connection durable.</summary>
    bool CanMultiConn { get; }

    /// <summary>True when the device behind it is a (simulated) spinning disk: advertised as NBD_FLAG_ROTATIONAL.</summary>
    bool IsRotational => false;

    /// <summary>TRIM is accepted: advertised as NBD_FLAG_SEND_TRIM (nbdkit's <c>can_trim</c>).</summary>
    bool CanTrim => true;

    /// <summary>A WRITE_ZEROES with FAST_ZERO is fast or fails at once: advertised as NBD_FLAG_SEND_FAST_ZERO (nbdkit's <c>can_fast_zero</c>).</summary>
    bool CanFastZero => true;

    /// <summary>Smallest and preferred I/O sizes to advertise (powers of two).</summary>
    int MinimumBlockSize { get; }

    int PreferredBlockSize { get; }
}
