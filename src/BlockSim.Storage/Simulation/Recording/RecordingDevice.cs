namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Logs every request that can change the device (write, trim, write-zeroes, flush) when it is submitted and
/// again when it completes, and passes it through unchanged; reads are not logged. Two records per request
/// are what lets <see cref="CrashStateModel"/> tell which writes a flush covers and which were in flight.
/// A request that fails below is logged as failed and its exception goes on to the caller: a failed write
/// may have reached some sectors, so it counts as in flight. Put it where the contract to be tested is seen:
/// under the encrypting layer it logs ciphertext, the bytes that would really be on the disk. The device
/// owns the log: disposing it closes the log (End record, flushed to disk) and then the inner device.
/// </summary>
public sealed class RecordingDevice(IBlockDevice inner, WriteLogWriter log) : DelegatingBlockDevice(inner)
{
    public WriteLogWriter Log => log;

    /// <summary>Puts a named point in the log (between the requests submitted before it and after); returns the crash point just after it.</summary>
    public long Mark(string name) => log.AppendMark(name);

    public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        var id = log.AppendWrite(offset, source.Span, fua);
        ValueTask operation;
        try
        {
            operation = Inner.WriteAsync(offset, source, fua, cancellationToken);
        }
        catch
        {
            log.AppendCompletion(id, failed: true);
            throw;
        }

        return Completed(id, operation);
    }

    public override ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        var id = log.AppendFlush();
        ValueTask operation;
        try
        {
            operation = Inner.FlushAsync(cancellationToken);
        }
        catch
        {
            log.AppendCompletion(id, failed: true);
            throw;
        }

        return Completed(id, operation);
    }

    public override ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        var id = log.AppendTrim(offset, length);
        ValueTask operation;
        try
        {
            operation = Inner.TrimAsync(offset, length, cancellationToken);
        }
        catch
        {
            log.AppendCompletion(id, failed: true);
            throw;
        }

        return Completed(id, operation);
    }

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        var id = log.AppendWriteZeroes(offset, length, mayDeallocate);
        ValueTask operation;
        try
        {
            operation = Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);
        }
        catch
        {
            log.AppendCompletion(id, failed: true);
            throw;
        }

        return Completed(id, operation);
    }

    public override void Dispose()
    {
        log.Dispose();
        base.Dispose();
    }

    // The synchronous case (memory and file devices) costs no state machine: the completion is logged at once.
    private ValueTask Completed(long id, ValueTask operation)
    {
        if (operation.IsCompletedSuccessfully)
        {
            log.AppendCompletion(id, failed: false);
            return operation;
        }

        return Awaited(id, operation);
    }

    private async ValueTask Awaited(long id, ValueTask operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch
        {
            log.AppendCompletion(id, failed: true);
            throw;
        }

        log.AppendCompletion(id, failed: false);
    }
}
