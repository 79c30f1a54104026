using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// A fault rule as the control API takes it: <c>{"kind": "error", "operations": ["read"], "firstSector": 100,
/// "lastSector": 107, "errno": "EIO"}</c>. The range is in the export's sectors (<c>sim show</c> gives their
/// size), or in bytes with <c>offset</c> and <c>length</c>; without either, the whole export.
/// </summary>
internal sealed class FaultRuleRequest
{
    public string Kind { get; set; } = "error";

    public List<string>? Operations { get; set; }

    public long? FirstSector { get; set; }

    public long? LastSector { get; set; }

    public long? Offset { get; set; }

    public long? Length { get; set; }

    public string? Errno { get; set; }

    public double Probability { get; set; } = 1;

    public long? Nth { get; set; }

    public long? Count { get; set; }

    public int StallMs { get; set; }

    public long ShiftSectors { get; set; }

    /// <summary>A bit flip in the plaintext, above the encryption (one bit changed, not a 16-byte block garbled).</summary>
    public bool AboveCipher { get; set; }

    private static readonly Dictionary<string, FaultKind> s_kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["error"] = FaultKind.Error, ["latent"] = FaultKind.Latent, ["stall"] = FaultKind.Stall, ["lost-write"] = FaultKind.LostWrite,
        ["bit-flip"] = FaultKind.BitFlip, ["misdirect"] = FaultKind.Misdirect, ["reset"] = FaultKind.Reset,
    };

    private static readonly Dictionary<string, FaultOperations> s_operations = new(StringComparer.OrdinalIgnoreCase)
    {
        ["read"] = FaultOperations.Read, ["write"] = FaultOperations.Write, ["flush"] = FaultOperations.Flush,
        ["trim"] = FaultOperations.Trim, ["write-zeroes"] = FaultOperations.WriteZeroes, ["all"] = FaultOperations.All,
    };

    /// <summary>The rule for an export with <paramref name="sectorSize"/>-byte sectors; throws ArgumentException naming the field at fault.</summary>
    public FaultRule ToRule(int sectorSize)
    {
        if (!s_kinds.TryGetValue(Kind, out var kind))
        {
            throw new ArgumentException($"kind '{Kind}': give one of {string.Join(", ", s_kinds.Keys)}.");
        }

        var operations = FaultOperations.None;
        foreach (var name in Operations ?? [DefaultOperation(kind)])
        {
            operations |= s_operations.TryGetValue(name, out var operation)
                ? operation
                : throw new ArgumentException($"operation '{name}': give {string.Join(", ", s_operations.Keys)}.");
        }

        var errno = FaultRule.EIO;
        if (Errno is not null && !FaultRule.ErrorNumbers.TryGetValue(Errno, out errno))
        {
            throw new ArgumentException($"errno '{Errno}': give one of {string.Join(", ", FaultRule.ErrorNumbers.Keys)}.");
        }

        var (first, last) = Range(sectorSize);
        return new FaultRule
        {
            Kind = kind,
            Operations = operations,
            FirstSector = first,
            LastSector = last,
            Errno = errno,
            Probability = Probability,
            Nth = Nth,
            Count = Count,
            StallMilliseconds = StallMs,
            ShiftSectors = ShiftSectors,
            AboveCipher = AboveCipher,
        };
    }

    private (long First, long Last) Range(int sectorSize)
    {
        if (Offset is not null || Length is not null)
        {
            if (FirstSector is not null || LastSector is not null)
            {
                throw new ArgumentException("give the range as firstSector/lastSector or as offset/length, not both.");
            }

            if (Offset is not { } offset || Length is not { } length || offset < 0 || length < 1 || offset > long.MaxValue - length)
            {
                throw new ArgumentException("offset and length go together: a byte offset from 0 and a length of at least 1.");
            }

            return (offset / sectorSize, (offset + length - 1) / sectorSize);
        }

        var first = FirstSector ?? 0;
        return (first, LastSector ?? (FirstSector is null ? long.MaxValue : first));
    }

    private static string DefaultOperation(FaultKind kind) => kind switch
    {
        FaultKind.LostWrite or FaultKind.Misdirect => "write",
        FaultKind.Stall or FaultKind.Reset => "all",
        _ => "read",
    };
}
