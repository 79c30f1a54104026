using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Simulation;

/// <summary>
/// Where an export's recorder goes when one is started: every export has this layer (under its run-time
/// control, over its configured behaviour), passing requests straight through until <see cref="Start"/>
/// puts a <see cref="RecordingDevice"/> in the path. Start and stop while the export is paused, so no
/// request is half in one log; a request reads the recorder once and goes the same way to the end.
/// </summary>
public sealed class RecordingSlot(IBlockDevice inner) : DelegatingBlockDevice(inner), IPageLender
{
    private RecordingDevice? _recorder;

    /// <summary>The log being written, or null.</summary>
    public WriteLogWriter? Log => Volatile.Read(ref _recorder)?.Log;

    /// <summary>The device under the slot: what a recording starts from.</summary>
    public IBlockDevice Below => Inner;

    /// <summary>Starts logging to <paramref name="log"/>; throws when a recording is already running.</summary>
    public void Start(WriteLogWriter log)
    {
        if (Interlocked.CompareExchange(ref _recorder, new RecordingDevice(Inner, log), null) is not null)
        {
            throw new InvalidOperationException("A recording is already running on this export; stop it first.");
        }
    }

    /// <summary>Stops logging and closes the log (its End record written and made durable); null when none ran.</summary>
    public WriteLogWriter? Stop()
    {
        var recorder = Interlocked.Exchange(ref _recorder, null);
        recorder?.Log.Dispose(); // the log only: the recorder would dispose the device under it too
        return recorder?.Log;
    }

    /// <summary>Puts a mark in the running log; null when nothing is being recorded.</summary>
    public long? Mark(string name) => Volatile.Read(ref _recorder)?.Mark(name);

    // Reads are lent through always; writes only while nothing records them.
    public bool TryBeginLoan(bool write) => Inner is IPageLender lender && (!write || Volatile.Read(ref _recorder) is null) && lender.TryBeginLoan(write);

    public ReadOnlySpan<byte> ReadableAt(long offset, int maxLength) => ((IPageLender)Inner).ReadableAt(offset, maxLength);

    public Span<byte> WritableAt(long offset, int maxLength) => ((IPageLender)Inner).WritableAt(offset, maxLength);

    public void EndLoan() => ((IPageLender)Inner).EndLoan();

    public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(offset, destination, cancellationToken); // reads change nothing and are not logged

    public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default) =>
        Path.WriteAsync(offset, source, fua, cancellationToken);

    public override ValueTask FlushAsync(CancellationToken cancellationToken = default) => Path.FlushAsync(cancellationToken);

    public override ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        Path.TrimAsync(offset, length, cancellationToken);

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default) =>
        Path.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);

    public override void Dispose()
    {
        Stop();
        base.Dispose();
    }

    private IBlockDevice Path => (IBlockDevice?)Volatile.Read(ref _recorder) ?? Inner;
}
