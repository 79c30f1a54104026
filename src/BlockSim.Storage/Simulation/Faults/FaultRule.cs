namespace BlockSim.Storage.Simulation.Faults;

/// <summary>The device operations a fault rule can aim at.</summary>
[Flags]
public enum FaultOperations
{
    None = 0,
    Read = 1,
    Write = 2,
    Flush = 4,
    Trim = 8,
    WriteZeroes = 16,
    All = Read | Write | Flush | Trim | WriteZeroes,
}

/// <summary>What a rule does to a request it hits.</summary>
public enum FaultKind
{
    /// <summary>The request fails with <see cref="FaultRule.Errno"/> (a bad sector, while the rule stands, with read and write).</summary>
    Error,

    /// <summary>Reads of a sector in the range fail (EIO) until that sector is written again, as a latent sector error heals on rewrite.</summary>
    Latent,

    /// <summary>The request is held for <see cref="FaultRule.StallMilliseconds"/>, then done.</summary>
    Stall,

    /// <summary>A write is acknowledged and never stored, even across a flush.</summary>
    LostWrite,

    /// <summary>
    /// One bit of the first sector hit flips, in what is read or in what is stored. Under the encryption, as
    /// here, a flipped ciphertext bit garbles the whole 16-byte block of plaintext, as a media error does.
    /// </summary>
    BitFlip,

    /// <summary>The connection the request came on is dropped at once, as a reset: nothing is answered.</summary>
    Reset,

    /// <summary>A write is stored <see cref="FaultRule.ShiftSectors"/> away from where it was sent (the other way if that runs off the device), and not where it was sent.</summary>
    Misdirect,
}

/// <summary>
/// One fault rule of an export: which operations on which sectors, what happens, how often. A request hits
/// the rule when it overlaps the sector range; whether it is then injected is decided by the export's
/// seeded dice (<see cref="FaultDice"/>), the rule's probability, the n-th match and the count.
/// </summary>
public sealed record FaultRule
{
    public const int EIO = 5;
    public const int ENOSPC = 28;
    public const int EPERM = 1;
    public const int ESHUTDOWN = 108;

    /// <summary>Errors a client can be given, as the NBD protocol numbers them.</summary>
    public static readonly IReadOnlyDictionary<string, int> ErrorNumbers = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        ["EIO"] = EIO, ["ENOSPC"] = ENOSPC, ["EPERM"] = EPERM, ["ESHUTDOWN"] = ESHUTDOWN,
    };

    public int Id { get; init; }

    public FaultKind Kind { get; init; }

    public FaultOperations Operations { get; init; }

    /// <summary>First sector of the range (in the device's sectors).</summary>
    public long FirstSector { get; init; }

    /// <summary>Last sector of the range, inclusive; <see cref="long.MaxValue"/> for "to the end".</summary>
    public long LastSector { get; init; } = long.MaxValue;

    public int Errno { get; init; } = EIO;

    public double Probability { get; init; } = 1;

    /// <summary>Only the n-th request that hits the range (1 = the first), then never again; null: every one.</summary>
    public long? Nth { get; init; }

    /// <summary>At most this many injections; null: no limit.</summary>
    public long? Count { get; init; }

    public int StallMilliseconds { get; init; }

    /// <summary>How far a misdirected write lands from its place, in sectors (non-zero).</summary>
    public long ShiftSectors { get; init; }

    /// <summary>
    /// A bit flip in the plaintext, above the encryption, where it changes one bit (as a fault in memory or
    /// on the wire past the cipher would) instead of garbling a 16-byte block. Only bit flips go above.
    /// </summary>
    public bool AboveCipher { get; init; }

    /// <summary>Null when the rule makes sense for a device of <paramref name="sectors"/> sectors, else what is wrong.</summary>
    public string? Problem(long sectors)
    {
        if (Operations == FaultOperations.None)
        {
            return "give at least one operation (read, write, flush, trim, write-zeroes).";
        }

        if (FirstSector < 0 || LastSector < FirstSector || FirstSector >= sectors || (LastSector != long.MaxValue && LastSector >= sectors))
        {
            return $"sectors {FirstSector}..{LastSector} are not a range on this device (sectors 0..{sectors - 1}).";
        }

        if (double.IsNaN(Probability) || Probability <= 0 || Probability > 1)
        {
            return $"probability {Probability}: give more than 0 and at most 1.";
        }

        if (Nth is < 1 || Count is < 1)
        {
            return "nth and count start at 1.";
        }

        if (!ErrorNumbers.Values.Contains(Errno))
        {
            return $"errno {Errno}: give one of {string.Join(", ", ErrorNumbers.Keys)}.";
        }

        if (AboveCipher && Kind != FaultKind.BitFlip)
        {
            return "only bit flips happen above the cipher (aboveCipher with kind bit-flip).";
        }

        return Kind switch
        {
            FaultKind.Stall when StallMilliseconds is < 1 or > 3_600_000 => "a stall needs stallMs from 1 to 3600000.",
            FaultKind.Latent when Operations != FaultOperations.Read => "a latent sector fails reads only (operations: read).",
            FaultKind.LostWrite when (Operations & ~(FaultOperations.Write | FaultOperations.WriteZeroes)) != 0 => "lost writes are writes (operations: write, write-zeroes).",
            FaultKind.BitFlip when (Operations & ~(FaultOperations.Read | FaultOperations.Write)) != 0 => "bit flips happen to reads and writes (operations: read, write).",
            FaultKind.Misdirect when Operations != FaultOperations.Write => "misdirected writes are writes (operations: write).",
            FaultKind.Misdirect when ShiftSectors == 0 || Math.Abs(ShiftSectors) >= sectors => $"a misdirected write needs shiftSectors, non-zero and within the device (|shift| < {sectors}).",
            _ => null,
        };
    }
}
