namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// The states a device may legally be left in by a crash at any point of a write log, by the block layer's
/// contract (NBD's, the Linux block layer's): only flushes and FUA make data durable, anything else completed
/// may or may not be on the media, and requests in flight may have reached any subset of their sectors.
/// A crash point P means "after the first P records of the log" (0 = before anything; <see cref="RecordCount"/>
/// = after everything). A state is chosen by a <see cref="CrashRecipe"/> and built by <see cref="Build"/>.
/// </summary>
public sealed class CrashStateModel
{
    private readonly LoggedRequest[] _requests;
    private readonly int[] _changePoints;

    public CrashStateModel(WriteLogHeader header, IReadOnlyList<WriteLogRecord> records)
    {
        Header = header;
        RecordCount = records.Count;
        var requests = new List<LoggedRequest>();
        var marks = new List<LogMark>();
        var changePoints = new List<int> { 0 };
        for (var index = 0; index < records.Count; index++)
        {
            var record = records[index];
            switch (record.Kind)
            {
                case WriteLogRecordKind.Mark:
                    marks.Add(new LogMark(record.MarkName ?? "", index + 1));
                    continue;
                case WriteLogRecordKind.Completion:
                    if (record.Id < 1 || record.Id > requests.Count || requests[(int)record.Id - 1].Completed != LoggedRequest.NotCompleted)
                    {
                        throw new ArgumentException($"Record {index} completes request {record.Id}, which is not in flight there.", nameof(records));
                    }

                    var request = requests[(int)record.Id - 1];
                    request.Completed = index;
                    request.Failed = record.Failed;
                    if (!record.Failed)
                    {
                        changePoints.Add(index + 1); // a write now completed, or a flush now effective
                    }

                    continue;
                case WriteLogRecordKind.End:
                    throw new ArgumentException("The End record is not one of a log's records; readers do not return it.", nameof(records));
            }

            if (record.Id != requests.Count + 1)
            {
                throw new ArgumentException($"Record {index} submits request {record.Id} where {requests.Count + 1} comes next.", nameof(records));
            }

            requests.Add(new LoggedRequest(record, index, header.SectorSize));
            if (record.ChangesContent)
            {
                changePoints.Add(index + 1); // one more write that may have reached the disk
            }
        }

        _requests = [.. requests];
        _changePoints = [.. changePoints];
        Marks = marks;
    }

    public WriteLogHeader Header { get; }

    /// <summary>Records in the log; also the last crash point.</summary>
    public int RecordCount { get; }

    /// <summary>Every request, in id order (the request with id N is at N - 1).</summary>
    public IReadOnlyList<LoggedRequest> Requests => _requests;

    public IReadOnlyList<LogMark> Marks { get; }

    /// <summary>
    /// The crash points at which the set of legal states changes: 0, and after each write submitted and each
    /// request completed. A crash anywhere else allows the same states as the change point before it.
    /// </summary>
    public IReadOnlyList<int> ChangePoints => _changePoints;

    public static CrashStateModel Load(string path, bool allowUnfinished = false)
    {
        var (header, records) = WriteLogReader.ReadFile(path, allowUnfinished);
        return new CrashStateModel(header, records);
    }

    public LoggedRequest Request(long id) =>
        id >= 1 && id <= _requests.Length ? _requests[id - 1] : throw new ArgumentOutOfRangeException(nameof(id), id, $"The log has requests 1 to {_requests.Length}.");

    /// <summary>The crash point just after the first mark of that name.</summary>
    public int CrashPointAt(string mark)
    {
        foreach (var candidate in Marks)
        {
            if (candidate.Name == mark)
            {
                return candidate.CrashPoint;
            }
        }

        throw new ArgumentException($"The log has no mark \"{mark}\"; its marks are: {(Marks.Count == 0 ? "none" : string.Join(", ", Marks.Select(m => $"\"{m.Name}\"")))}.", nameof(mark));
    }

    /// <summary>
    /// Sorts the content-changing requests submitted before the crash point. The rule:
    /// a write is durable when it completed successfully before the crash and either it was FUA, or some flush
    /// was submitted after the write completed and that flush completed successfully before the crash. A write
    /// that completed after a flush was submitted is not covered by that flush, even if the flush completed
    /// later: the flush's promise is only about writes completed when it was sent. Every other write submitted
    /// before the crash is optional: completed but not covered (<see cref="CrashPointAnalysis.Unflushed"/>), or
    /// not completed, or failed, and so perhaps partly done (<see cref="CrashPointAnalysis.InFlight"/>).
    /// Trim and write-zeroes follow the same rule; a trim that survives is taken to have zeroed its range.
    /// </summary>
    public CrashPointAnalysis Analyze(int crashPoint)
    {
        CheckCrashPoint(crashPoint);

        // Only the last-submitted effective flush matters: it covers every write completed before it was sent.
        var coveredBefore = -1;
        var submitted = 0;
        for (; submitted < _requests.Length && _requests[submitted].SubmittedBefore(crashPoint); submitted++)
        {
            var flush = _requests[submitted];
            if (flush.Kind == WriteLogRecordKind.Flush && flush.SucceededBefore(crashPoint))
            {
                coveredBefore = flush.Submitted;
            }
        }

        List<LoggedRequest> durable = [], unflushed = [], inFlight = [];
        for (var i = 0; i < submitted; i++)
        {
            var request = _requests[i];
            if (!request.ChangesContent)
            {
                continue;
            }

            var list = !request.SucceededBefore(crashPoint) ? inFlight : request.Fua || request.Completed < coveredBefore ? durable : unflushed;
            list.Add(request);
        }

        return new CrashPointAnalysis(crashPoint, durable, unflushed, inFlight);
    }

    /// <summary>The state a recipe names; <see cref="ArgumentException"/> when the recipe does not fit this log or names an impossible state.</summary>
    public CrashState Build(CrashRecipe recipe)
    {
        CheckCrashPoint(recipe.CrashPoint);
        var analysis = Analyze(recipe.CrashPoint);
        return Problem(recipe, analysis) is { } problem
            ? throw new ArgumentException($"The crash recipe {recipe} does not describe a legal state of this log: {problem}.", nameof(recipe))
            : new CrashState(this, recipe, analysis);
    }

    /// <summary>Why a recipe names no legal state of this log, or null when it does.</summary>
    public string? Problem(CrashRecipe recipe)
    {
        if (recipe.CrashPoint > RecordCount)
        {
            return $"crash point {recipe.CrashPoint} is past the log's {RecordCount} records";
        }

        return Problem(recipe, Analyze(recipe.CrashPoint));
    }

    private string? Problem(CrashRecipe recipe, CrashPointAnalysis analysis)
    {
        foreach (var id in recipe.Dropped)
        {
            if (NotOptional(id, analysis) is { } problem)
            {
                return problem;
            }
        }

        foreach (var torn in recipe.Torn)
        {
            if (NotOptional(torn.Id, analysis) is { } problem)
            {
                return problem;
            }

            var sectors = Request(torn.Id).Sectors;
            if (torn.LostSectors[^1] >= sectors || torn.LostSectors.Count == sectors)
            {
                return $"write {torn.Id} touches {sectors} sectors (0 to {sectors - 1}) and a torn write keeps at least one of them (losing all is dropping it)";
            }
        }

        return null;
    }

    private string? NotOptional(long id, CrashPointAnalysis analysis)
    {
        if (id < 1 || id > _requests.Length)
        {
            return $"the log has no request {id}";
        }

        var request = _requests[id - 1];
        return !request.ChangesContent ? $"request {id} is a {request.Kind.ToString().ToLowerInvariant()}, which changes no content"
            : !request.SubmittedBefore(analysis.CrashPoint) ? $"write {id} is submitted after crash point {analysis.CrashPoint}"
            : !analysis.IsOptional(id) ? $"write {id} is durable at crash point {analysis.CrashPoint} (FUA, or covered by a completed flush), so it cannot be lost"
            : null;
    }

    private void CheckCrashPoint(int crashPoint)
    {
        if (crashPoint < 0 || crashPoint > RecordCount)
        {
            throw new ArgumentOutOfRangeException(nameof(crashPoint), crashPoint, $"A crash point is 0 to {RecordCount}, the number of records before the crash.");
        }
    }
}
