namespace BlockSim.Storage.Simulation.Faults;

/// <summary>
/// The layer through which an export's <see cref="SimulationControl"/> acts on its requests: pauses hold
/// them, and fault rules fail, stall or drop them. With no rule and no pause a request only has its sequence
/// number taken and is counted in flight; then it also lends the pages of a device below that lends them,
/// so an encrypted memory export keeps its one-pass path under control.
/// </summary>
public sealed class ControlledDevice(IBlockDevice inner, SimulationControl control) : DelegatingBlockDevice(inner), IPageLender
{
    public SimulationControl Control => control;

    public bool TryBeginLoan(bool write)
    {
        if (Inner is not IPageLender lender || control.HasRules || !control.TryEnter(out _))
        {
            return false;
        }

        if (lender.TryBeginLoan(write))
        {
            return true;
        }

        control.Exit();
        return false;
    }

    public ReadOnlySpan<byte> ReadableAt(long offset, int maxLength) => ((IPageLender)Inner).ReadableAt(offset, maxLength);

    public Span<byte> WritableAt(long offset, int maxLength) => ((IPageLender)Inner).WritableAt(offset, maxLength);

    public void EndLoan()
    {
        ((IPageLender)Inner).EndLoan();
        control.Exit();
    }

    public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        !control.HasRules && control.TryEnter(out _)
            ? Tracked(Inner.ReadAsync(offset, destination, cancellationToken))
            : ReadSlowAsync(offset, destination, cancellationToken);

    public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default) =>
        !control.HasRules && control.TryEnter(out _)
            ? Tracked(Inner.WriteAsync(offset, source, fua, cancellationToken))
            : WriteSlowAsync(offset, source, fua, cancellationToken);

    public override ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        !control.HasRules && control.TryEnter(out _)
            ? Tracked(Inner.FlushAsync(cancellationToken))
            : SlowAsync(FaultOperations.Flush, 0, 0, () => Inner.FlushAsync(cancellationToken), cancellationToken);

    public override ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        !control.HasRules && control.TryEnter(out _)
            ? Tracked(Inner.TrimAsync(offset, length, cancellationToken))
            : SlowAsync(FaultOperations.Trim, offset, length, () => Inner.TrimAsync(offset, length, cancellationToken), cancellationToken);

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default) =>
        !control.HasRules && control.TryEnter(out _)
            ? Tracked(Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken))
            : SlowAsync(FaultOperations.WriteZeroes, offset, length, () => Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken), cancellationToken);

    private ValueTask Tracked(ValueTask operation)
    {
        if (operation.IsCompletedSuccessfully)
        {
            control.Exit();
            return operation;
        }

        return Awaited(operation);
    }

    private async ValueTask Awaited(ValueTask operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        finally
        {
            control.Exit();
        }
    }

    // Separate from SlowAsync so the read path captures no Memory<byte> in a closure.
    private async ValueTask ReadSlowAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var (sequence, entered) = await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var decision = await ApplyAsync(FaultOperations.Read, offset, destination.Length, sequence, cancellationToken).ConfigureAwait(false);
            await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
            if (decision.Kind == FaultKind.BitFlip)
            {
                decision.FlipIn(destination.Span, offset, control.SectorSize);
            }
        }
        finally
        {
            Exit(entered);
        }
    }

    private async ValueTask WriteSlowAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken)
    {
        var (sequence, entered) = await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var decision = await ApplyAsync(FaultOperations.Write, offset, source.Length, sequence, cancellationToken).ConfigureAwait(false);
            switch (decision.Kind)
            {
                case FaultKind.LostWrite:
                    break;
                case FaultKind.BitFlip:
                    var garbled = source.ToArray();
                    decision.FlipIn(garbled, offset, control.SectorSize);
                    await Inner.WriteAsync(offset, garbled, fua, cancellationToken).ConfigureAwait(false);
                    break;
                case FaultKind.Misdirect:
                    await Inner.WriteAsync(control.MisdirectedOffset(offset, source.Length, decision.ShiftSectors), source, fua, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        finally
        {
            Exit(entered);
        }
    }

    private async ValueTask SlowAsync(FaultOperations operation, long offset, long length, Func<ValueTask> run, CancellationToken cancellationToken)
    {
        var (sequence, entered) = await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if ((await ApplyAsync(operation, offset, length, sequence, cancellationToken).ConfigureAwait(false)).Kind != FaultKind.LostWrite)
            {
                await run().ConfigureAwait(false);
            }
        }
        finally
        {
            Exit(entered);
        }
    }

    /// <summary>
    /// A request the plaintext layer above the cipher has already entered (it holds the pause and took the
    /// sequence number) is not entered again: one request, one number.
    /// </summary>
    private async ValueTask<(long Sequence, bool Entered)> EnterAsync(CancellationToken cancellationToken) =>
        SimulationControl.EnteredAbove(control) is { } sequence
            ? (sequence, false)
            : (await control.EnterAsync(cancellationToken).ConfigureAwait(false), true);

    private void Exit(bool entered)
    {
        if (entered)
        {
            control.Exit();
        }
    }

    /// <summary>Asks the rules; throws for an error and waits out a stall here, and returns the decision for what the request itself must do differently.</summary>
    private async ValueTask<FaultDecision> ApplyAsync(FaultOperations operation, long offset, long length, long sequence, CancellationToken cancellationToken)
    {
        var decision = control.Decide(operation, offset, length, sequence);
        switch (decision.Kind)
        {
            case FaultKind.Error or FaultKind.Latent:
                throw new InjectedFaultException(decision.Errno, $"simulated {operation.ToString().ToLowerInvariant()} error at offset {offset} (fault rule {decision.Rule})");
            case FaultKind.Stall:
                await Task.Delay(decision.StallMilliseconds, cancellationToken).ConfigureAwait(false);
                break;
            case FaultKind.Reset:
                throw new InjectedFaultException(FaultRule.EIO, $"simulated connection reset at offset {offset} (fault rule {decision.Rule})") { ResetsConnection = true };
        }

        return decision;
    }

}
