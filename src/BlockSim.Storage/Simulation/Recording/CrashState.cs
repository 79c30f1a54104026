namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// One legal state a crash may leave, as its <see cref="Recipe"/> names it: the base image (the device as it
/// was when recording started) with every surviving write laid over it, in the order the device finished
/// them. Writes that completed before the crash go in completion order; those still in flight (or failed)
/// after them, in submission order, since nothing orders them. Where writes overlapped in flight the log
/// cannot tell which the device applied last; completion order is the model's choice there.
/// </summary>
public sealed class CrashState
{
    private readonly CrashStateModel _model;

    internal CrashState(CrashStateModel model, CrashRecipe recipe, CrashPointAnalysis analysis)
    {
        _model = model;
        Recipe = recipe;
        Analysis = analysis;
    }

    public CrashRecipe Recipe { get; }

    public CrashPointAnalysis Analysis { get; }

    /// <summary>The surviving requests in the order they are laid down.</summary>
    public IReadOnlyList<LoggedRequest> Survivors()
    {
        var crashPoint = Recipe.CrashPoint;
        var survivors = new List<LoggedRequest>(Analysis.Durable);
        foreach (var request in Analysis.Optional)
        {
            if (!Recipe.Drops(request.Id))
            {
                survivors.Add(request);
            }
        }

        survivors.Sort((a, b) => Order(a, crashPoint).CompareTo(Order(b, crashPoint)));
        return survivors;
    }

    /// <summary>What to write over a copy of the base image, in order; torn writes give one piece per run of surviving sectors.</summary>
    public IEnumerable<CrashStatePiece> Pieces()
    {
        var sectorSize = _model.Header.SectorSize;
        foreach (var request in Survivors())
        {
            var torn = Torn(request.Id);
            if (torn is null)
            {
                yield return Piece(request, request.Offset, request.Offset + request.Length);
                continue;
            }

            // The runs between lost sectors survive: walking the lost list, not every sector, keeps a torn trim of a whole disk cheap.
            var next = 0L;
            foreach (var lost in torn.LostSectors)
            {
                if (lost > next)
                {
                    yield return Run(request, next, lost - 1, sectorSize);
                }

                next = lost + 1L;
            }

            if (next < request.Sectors)
            {
                yield return Run(request, next, request.Sectors - 1, sectorSize);
            }
        }
    }

    /// <summary>Lays the state over <paramref name="target"/>, which must hold the base image (a copy-on-write device over it, say).</summary>
    public async ValueTask ApplyToAsync(IBlockDevice target, CancellationToken cancellationToken = default)
    {
        foreach (var piece in Pieces())
        {
            if (piece.Zeroes)
            {
                // Write-zeroes, not trim: a trim is advisory and may leave the old bytes, and the state says zeros.
                await target.WriteZeroesAsync(piece.Offset, piece.Length, piece.MayDeallocate, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await target.WriteAsync(piece.Offset, piece.Data, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }

        await target.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override string ToString() => Recipe.ToString();

    /// <summary>Sectors <paramref name="first"/> to <paramref name="last"/> of the request (counted from its first), clipped to its bytes.</summary>
    private static CrashStatePiece Run(LoggedRequest request, long first, long last, int sectorSize) =>
        Piece(request, Math.Max(request.Offset, (request.FirstSector + first) * sectorSize), Math.Min(request.Offset + request.Length, (request.FirstSector + last + 1) * sectorSize));

    private static CrashStatePiece Piece(LoggedRequest request, long from, long to) =>
        request.Kind == WriteLogRecordKind.Write
            ? new CrashStatePiece(request.Id, from, to - from, request.Payload.Slice((int)(from - request.Offset), (int)(to - from)), Zeroes: false, MayDeallocate: false)
            : new CrashStatePiece(request.Id, from, to - from, default, Zeroes: true, request.MayDeallocate);

    private long Order(LoggedRequest request, int crashPoint) =>
        request.Completed != LoggedRequest.NotCompleted && request.Completed < crashPoint ? request.Completed : (long)_model.RecordCount + request.Submitted;

    private TornWrite? Torn(long id)
    {
        foreach (var torn in Recipe.Torn)
        {
            if (torn.Id == id)
            {
                return torn;
            }
        }

        return null;
    }
}
