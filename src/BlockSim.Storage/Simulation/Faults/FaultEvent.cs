namespace BlockSim.Storage.Simulation.Faults;

/// <summary>
/// One entry of an export's event log: an injected fault (with its request's sequence number, range and
/// rule), or a change made through the control API (a rule added or removed, pause, resume, a mark, a power
/// cut), with the sequence number from which it applies. <paramref name="Id"/> numbers the log's entries from 1.
/// </summary>
public sealed record FaultEvent(long Id, long Sequence, DateTimeOffset Time, string Event, int? Rule = null, string? Operation = null, long? Offset = null, long? Length = null, int? Errno = null, string? Detail = null);
