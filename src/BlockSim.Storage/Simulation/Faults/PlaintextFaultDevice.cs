namespace BlockSim.Storage.Simulation.Faults;

/// <summary>
/// The part of an export's run-time control that sits above the encryption: bit-flip rules marked
/// <see cref="FaultRule.AboveCipher"/> flip one bit of the plaintext read or written, where the
/// <see cref="ControlledDevice"/> under the cipher would garble a whole 16-byte block. With no such rule a
/// request passes straight through. With one, this layer enters the request (pause, sequence number) and
/// the controlled device under the cipher takes it as entered, so the request keeps one number.
/// </summary>
public sealed class PlaintextFaultDevice(IBlockDevice inner, SimulationControl control) : DelegatingBlockDevice(inner)
{
    public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        control.HasAboveCipherRules
            ? ReadFlippedAsync(offset, destination, cancellationToken)
            : Inner.ReadAsync(offset, destination, cancellationToken);

    public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default) =>
        control.HasAboveCipherRules
            ? WriteFlippedAsync(offset, source, fua, cancellationToken)
            : Inner.WriteAsync(offset, source, fua, cancellationToken);

    private async ValueTask ReadFlippedAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var sequence = await control.EnterAsync(cancellationToken).ConfigureAwait(false);
        control.SetEnteredAbove(sequence);
        try
        {
            await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
            var decision = control.Decide(FaultOperations.Read, offset, destination.Length, sequence, aboveCipher: true);
            if (decision.Kind == FaultKind.BitFlip)
            {
                decision.FlipIn(destination.Span, offset, control.SectorSize);
            }
        }
        finally
        {
            control.SetEnteredAbove(null);
            control.Exit();
        }
    }

    private async ValueTask WriteFlippedAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken)
    {
        var sequence = await control.EnterAsync(cancellationToken).ConfigureAwait(false);
        control.SetEnteredAbove(sequence);
        try
        {
            var decision = control.Decide(FaultOperations.Write, offset, source.Length, sequence, aboveCipher: true);
            if (decision.Kind == FaultKind.BitFlip)
            {
                var flipped = source.ToArray(); // the client's buffer is not ours to change
                decision.FlipIn(flipped, offset, control.SectorSize);
                source = flipped;
            }

            await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            control.SetEnteredAbove(null);
            control.Exit();
        }
    }
}
