using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Exports;

/// <summary>One extent of a BLOCK_STATUS answer in the base:allocation context.</summary>
public readonly record struct NbdExtent(uint Length, NbdAllocationFlags Flags);

/// <summary>
/// What the server serves once a client has attached: a block device seen through the NBD protocol.
/// Offsets and lengths are already checked against <see cref="INbdExportInfo.Size"/> by the server.
/// Failures are reported by throwing <see cref="NbdException"/> (a specific error) or
/// <see cref="IOException"/> (EIO).
/// </summary>
public interface INbdExport : INbdExportInfo
{
    /// <summary>
    /// True when every operation finishes before it returns (see <c>IBlockDevice.CompletesSynchronously</c>):
    /// the server then runs a connection's requests on that connection's thread, one after another.
    /// </summary>
    bool CompletesSynchronously => false;

    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);

    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken);

    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>Advisory: the range's contents become unspecified (here: zeros).</summary>
    ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken);

    /// <summary>
    /// The range reads back as zeros. <paramref name="mayDeallocate"/> false means keep it allocated (NO_HOLE);
    /// <paramref name="fastOnly"/> means fail with ENOTSUP instead of doing slow work (FAST_ZERO).
    /// </summary>
    ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken);

    /// <summary>Describes allocation from <paramref name="offset"/> on; returns how many extents were written (at least 1).</summary>
    int GetAllocation(long offset, long length, Span<NbdExtent> extents);
}

/// <summary>An error to return to the client with a specific NBD error value.</summary>
public sealed class NbdException(NbdError error, string message) : Exception(message)
{
    public NbdError Error { get; } = error;
}
