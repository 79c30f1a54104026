namespace BlockSim.Storage.Simulation.Faults;

/// <summary>
/// An export's simulation as it can be driven at run time: its fault rules, its seed, its request sequence
/// numbers, pause and resume, and the log of what was injected and changed. <see cref="ControlledDevice"/>
/// asks it about every request. Each change answers with the sequence number from which it applies: the
/// requests numbered after it see it.
/// </summary>
public sealed class SimulationControl(long seed, int sectorSize, long capacity, TimeProvider? time = null)
{
    public const int MaxRules = 256;
    public const int MaxEvents = 10_000;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly object _lock = new();
    private readonly Queue<FaultEvent> _events = new();
    // A request entered by the plaintext layer above the cipher, so the layer under it does not enter it again.
    private static readonly AsyncLocal<EnteredRequest?> s_enteredAbove = new();
    private RuleState[] _rules = [];
    private bool _hasAboveCipherRules;
    private int _nextRule = 1;
    private long _nextEvent = 1;
    private long _sequence;
    private long _inFlight;
    private TaskCompletionSource? _resumed;
    private TaskCompletionSource? _drained;

    public long Seed { get; } = seed;

    public int SectorSize { get; } = sectorSize;

    public long Sectors { get; } = capacity / sectorSize;

    /// <summary>The number of the last request that reached the device.</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    public bool IsPaused => Volatile.Read(ref _resumed) is not null;

    /// <summary>Events dropped from the front of the log because it was full.</summary>
    public long EventsDropped { get; private set; }

    internal bool HasRules => Volatile.Read(ref _rules).Length > 0;

    /// <summary>Whether any rule acts above the cipher, on plaintext (the plaintext layer's fast check).</summary>
    internal bool HasAboveCipherRules => Volatile.Read(ref _hasAboveCipherRules);

    public IReadOnlyList<(FaultRule Rule, long Hits, long Injected)> Rules
    {
        get
        {
            lock (_lock)
            {
                return _rules.Select(r => (r.Rule, r.Hits, r.Injected)).ToList();
            }
        }
    }

    /// <summary>Adds a rule (its id is assigned here); throws ArgumentException saying what is wrong with it.</summary>
    public (FaultRule Rule, long FromSequence) Add(FaultRule rule)
    {
        var lastSector = Math.Min(rule.LastSector, Sectors - 1);
        if (rule.Problem(Sectors) is { } problem)
        {
            throw new ArgumentException(problem);
        }

        lock (_lock)
        {
            if (_rules.Length >= MaxRules)
            {
                throw new ArgumentException($"An export has at most {MaxRules} fault rules; remove some first.");
            }

            var added = rule with { Id = _nextRule++, LastSector = lastSector };
            SetRules([.. _rules, new RuleState(added)]);
            var from = Record("rule-added", added.Id, detail: $"{added.Kind} on {added.Operations} sectors {added.FirstSector}..{added.LastSector}");
            return (added, from);
        }
    }

    /// <summary>Removes one rule; null when there is none with that id.</summary>
    public long? Remove(int id)
    {
        lock (_lock)
        {
            if (!_rules.Any(r => r.Rule.Id == id))
            {
                return null;
            }

            SetRules(_rules.Where(r => r.Rule.Id != id).ToArray());
            return Record("rule-removed", id);
        }
    }

    /// <summary>Removes every rule; returns how many there were and the sequence from which none applies.</summary>
    public (int Removed, long FromSequence) Clear()
    {
        lock (_lock)
        {
            var removed = _rules.Length;
            SetRules([]);
            return (removed, Record("rules-cleared", detail: $"{removed} rules"));
        }
    }

    /// <summary>A named point in the request stream.</summary>
    public long Mark(string name)
    {
        lock (_lock)
        {
            return Record("mark", detail: name);
        }
    }

    /// <summary>Records something done to the export from outside (a power cut, say).</summary>
    public long Note(string what, string detail)
    {
        lock (_lock)
        {
            return Record(what, detail: detail);
        }
    }

    /// <summary>
    /// Holds new requests and returns once those in flight have finished: the sequence number of the last
    /// request that ran. Cancelling stops the wait, not the pause.
    /// </summary>
    public async Task<long> PauseAsync(CancellationToken cancellationToken = default)
    {
        Task drained;
        lock (_lock)
        {
            if (_resumed is null)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Interlocked.Exchange(ref _resumed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                if (Interlocked.Read(ref _inFlight) == 0)
                {
                    _drained.TrySetResult();
                }

                Record("paused");
            }

            drained = _drained!.Task;
        }

        await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        return Sequence;
    }

    /// <summary>Lets held requests go; returns the sequence after which they run. Idempotent.</summary>
    public long Resume()
    {
        lock (_lock)
        {
            var resumed = Interlocked.Exchange(ref _resumed, null);
            if (resumed is null)
            {
                return Sequence;
            }

            var from = Record("resumed");
            resumed.TrySetResult();
            return from;
        }
    }

    /// <summary>The log's events after event <paramref name="afterId"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<FaultEvent> Events(long afterId = 0, int limit = 1000)
    {
        lock (_lock)
        {
            return _events.Where(e => e.Id > afterId).Take(limit).ToList();
        }
    }

    /// <summary>
    /// Admits a request at once when nothing is paused, counting it as in flight; false when it must take
    /// <see cref="EnterAsync"/> (a pause is on).
    /// </summary>
    internal bool TryEnter(out long sequence)
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _resumed) is null)
        {
            sequence = Interlocked.Increment(ref _sequence);
            return true;
        }

        Exit();
        sequence = 0;
        return false;
    }

    /// <summary>Waits out any pause, then admits the request.</summary>
    internal async ValueTask<long> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryEnter(out var sequence))
            {
                return sequence;
            }

            if (Volatile.Read(ref _resumed) is { } resumed)
            {
                await resumed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _resumed) is not null)
        {
            lock (_lock)
            {
                _drained?.TrySetResult();
            }
        }
    }

    /// <summary>
    /// The sequence number of the request this async flow is in, when the plaintext layer over
    /// <paramref name="control"/> has entered it; null otherwise.
    /// </summary>
    internal static long? EnteredAbove(SimulationControl control) =>
        s_enteredAbove.Value is { } entered && ReferenceEquals(entered.Control, control) ? entered.Sequence : null;

    /// <summary>Marks this async flow (the plaintext layer's request, and what it calls) as entered; null clears it.</summary>
    internal void SetEnteredAbove(long? sequence) => s_enteredAbove.Value = sequence is { } number ? new EnteredRequest(this, number) : null;

    /// <summary>
    /// Asks the rules of one layer (under the cipher, or above it on plaintext) about one request: the first
    /// rule that hits it decides; writes heal latent sectors (under the cipher, where latent rules are).
    /// </summary>
    internal FaultDecision Decide(FaultOperations operation, long offset, long length, long sequence, bool aboveCipher = false)
    {
        var first = offset / SectorSize;
        var last = length == 0 ? first : (offset + length - 1) / SectorSize;
        lock (_lock)
        {
            if (!aboveCipher && operation is FaultOperations.Write or FaultOperations.WriteZeroes)
            {
                foreach (var latent in _rules)
                {
                    if (latent.Rule.Kind == FaultKind.Latent && latent.Overlaps(first, last))
                    {
                        latent.Heal(first, last);
                    }
                }
            }

            foreach (var state in _rules)
            {
                var rule = state.Rule;
                var covers = operation == FaultOperations.Flush || state.Overlaps(first, last);
                if (rule.AboveCipher != aboveCipher || (rule.Operations & operation) == 0 || !covers || state.Target(first, last) is not { } sector || !state.Decide(Seed, operation, sector, out var access))
                {
                    continue;
                }

                var decision = new FaultDecision(rule.Kind, rule.Id, rule.Kind == FaultKind.Latent ? FaultRule.EIO : rule.Errno, rule.StallMilliseconds, sector, 0, rule.ShiftSectors);
                string? detail = rule.Kind.ToString();
                if (rule.Kind == FaultKind.BitFlip)
                {
                    // Which bit: the dice again, on a different access number, so it is as reproducible as the hit.
                    var bits = Math.Min(SectorSize, offset + length - (sector * SectorSize)) * 8;
                    decision = decision with { Bit = (long)(FaultDice.Roll(Seed, rule.Id, operation, sector, ~access) * bits) };
                    detail = $"BitFlip{(aboveCipher ? " above the cipher" : "")} at byte {(sector * SectorSize) + (decision.Bit / 8)} bit {decision.Bit % 8}";
                }
                else if (rule.Kind == FaultKind.Misdirect)
                {
                    detail = $"Misdirect stored at offset {MisdirectedOffset(offset, length, rule.ShiftSectors)}";
                }

                Record("fault", rule.Id, operation.ToString(), offset, length, rule.Kind is FaultKind.Error or FaultKind.Latent ? decision.Errno : null, detail, sequence);
                return decision;
            }
        }

        return FaultDecision.None;
    }

    /// <summary>Where a misdirected write lands: shifted, or shifted the other way when that runs off the device.</summary>
    internal long MisdirectedOffset(long offset, long length, long shiftSectors)
    {
        var capacity = Sectors * SectorSize;
        var shifted = offset + (shiftSectors * SectorSize);
        return shifted >= 0 && shifted + length <= capacity ? shifted : offset - (shiftSectors * SectorSize);
    }

    private void SetRules(RuleState[] rules)
    {
        Volatile.Write(ref _hasAboveCipherRules, rules.Any(r => r.Rule.AboveCipher));
        Volatile.Write(ref _rules, rules);
    }

    private long Record(string what, int? rule = null, string? operation = null, long? offset = null, long? length = null, int? errno = null, string? detail = null, long? sequence = null)
    {
        var at = sequence ?? Sequence + 1; // a change applies from the next request on
        _events.Enqueue(new FaultEvent(_nextEvent++, at, _time.GetUtcNow(), what, rule, operation, offset, length, errno, detail));
        if (_events.Count > MaxEvents)
        {
            _events.Dequeue();
            EventsDropped++;
        }

        return at;
    }
}

/// <summary>A request entered at the plaintext layer of <see cref="Control"/>, with its sequence number.</summary>
internal sealed record EnteredRequest(SimulationControl Control, long Sequence);
