namespace BlockSim.Storage.Simulation.Profiles;

/// <summary>
/// How fast a cloud volume type lets I/O through, as its provider publishes it: an IOPS limit counted in
/// I/O units of <see cref="IoUnitBytes"/> (a larger request counts as several), a throughput limit, and for
/// the burstable types a credit bucket that lets the volume run above its baseline until it is empty. The
/// figures are Amazon EBS's (docs.aws.amazon.com/ebs/latest/userguide/ebs-volume-types.html and
/// general-purpose.html, hdd-vols.html), for the volume's size; README.md lists them.
/// </summary>
/// <param name="MaxIops">The most I/O units a second: the burst rate where there are credits, else the baseline.</param>
/// <param name="BaselineIops">What the IOPS credit bucket refills at: the sustained rate once it is empty (null: no IOPS credits).</param>
/// <param name="IopsCredits">The IOPS credit bucket's size, in I/O units.</param>
/// <param name="MaxBytesPerSecond">The throughput limit (the burst one where there are throughput credits).</param>
/// <param name="BaselineBytesPerSecond">What the throughput credit bucket refills at (null: no throughput credits).</param>
/// <param name="ThroughputCredits">The throughput credit bucket's size, in bytes.</param>
public sealed record VolumeProfile(
    string Name,
    long Capacity,
    int IoUnitBytes,
    double? MaxIops,
    double? BaselineIops,
    double IopsCredits,
    double MaxBytesPerSecond,
    double? BaselineBytesPerSecond,
    double ThroughputCredits)
{
    public const long GiB = 1L << 30;
    public const long TiB = 1L << 40;
    public const double MiB = 1 << 20;

    /// <summary>The profiles there are, for messages and <c>sim show</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["aws-gp2", "aws-gp3", "aws-io2", "aws-st1", "aws-sc1"];

    /// <summary>
    /// The profile <paramref name="name"/> for a volume of <paramref name="capacity"/> bytes.
    /// <paramref name="iops"/> and <paramref name="throughput"/> (bytes per second) are what gp3 and io2 are
    /// provisioned with (io2 needs iops; gp3 defaults to 3,000 and 125 MiB/s); the other types take none.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name, or provisioning the type does not take or allow.</exception>
    public static VolumeProfile For(string name, long capacity, int? iops = null, long? throughput = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        var gib = capacity / (double)GiB;
        var tib = capacity / (double)TiB;
        if (name is not ("aws-gp3" or "aws-io2") && (iops is not null || throughput is not null))
        {
            throw new ArgumentException($"{name} is not provisioned: its IOPS and throughput follow from its size; give neither iops nor throughput.");
        }

        switch (name)
        {
            case "aws-gp2":
                // 3 IOPS per GiB, at least 100 and at most 16,000; below 3,000 it bursts to 3,000 on 5.4 million
                // credits. Throughput 128 MiB/s up to 170 GiB, 250 MiB/s above (AWS gives 250 between 170 and
                // 334 GiB only while credits last; this model gives it throughout).
                var baseline = Math.Clamp(3 * gib, 100, 16_000);
                var bursts = baseline < 3_000;
                return new VolumeProfile(name, capacity, 256 * 1024, bursts ? 3_000 : baseline, bursts ? baseline : null, 5_400_000, (gib <= 170 ? 128 : 250) * MiB, null, 0);
            case "aws-gp3":
                var gp3Iops = iops ?? 3_000;
                var gp3Throughput = throughput ?? (long)(125 * MiB);
                Require(gp3Iops is >= 3_000 and <= 16_000, $"aws-gp3 takes 3000 to 16000 IOPS; {gp3Iops} given.");
                Require(gp3Throughput >= 125 * MiB && gp3Throughput <= 1_000 * MiB, $"aws-gp3 takes 125 to 1000 MiB/s; {gp3Throughput / MiB:0.##} MiB/s given.");
                Require(gp3Iops <= 500 * gib, $"aws-gp3 allows at most 500 IOPS per GiB: {500 * gib:0} for this size; {gp3Iops} given.");
                Require(gp3Throughput / MiB <= gp3Iops / 4.0, $"aws-gp3 allows at most 0.25 MiB/s per provisioned IOPS: {gp3Iops / 4.0:0.##} MiB/s for {gp3Iops}.");
                return new VolumeProfile(name, capacity, 256 * 1024, gp3Iops, null, 0, gp3Throughput, null, 0);
            case "aws-io2":
                Require(iops is not null, "aws-io2 is provisioned: give its iops (100 to 256000).");
                Require(iops is >= 100 and <= 256_000, $"aws-io2 takes 100 to 256000 IOPS; {iops} given.");
                Require(iops <= 1_000 * gib, $"aws-io2 allows at most 1000 IOPS per GiB: {1_000 * gib:0} for this size; {iops} given.");
                Require(throughput is null, "aws-io2's throughput follows from its IOPS (0.256 MiB/s each, at most 4000 MiB/s); give no throughput.");
                return new VolumeProfile(name, capacity, 256 * 1024, iops, null, 0, Math.Min(iops!.Value * 0.256, 4_000) * MiB, null, 0);
            case "aws-st1":
                // 40 MiB/s per TiB baseline, 250 MiB/s per TiB burst, at most 500 MiB/s and 500 IOPS of 1 MiB; a bucket of 1 TiB per TiB.
                return Throughput(name, capacity, baselinePerTiB: 40, burstPerTiB: 250, most: 500, iops: 500, tib);
            case "aws-sc1":
                // 12 MiB/s per TiB baseline, 80 MiB/s per TiB burst, at most 250 MiB/s and 250 IOPS of 1 MiB; a bucket of 1 TiB per TiB.
                return Throughput(name, capacity, baselinePerTiB: 12, burstPerTiB: 80, most: 250, iops: 250, tib);
            default:
                throw new ArgumentException($"No profile {name}; there are {string.Join(", ", Names)}.");
        }
    }

    /// <summary>"aws-gp2 100 GiB: 3000 IOPS burst, 300 baseline, 5400000 credits; 128 MiB/s".</summary>
    public override string ToString()
    {
        var iops = MaxIops is null ? "" : BaselineIops is { } baseline ? $"{MaxIops:0} IOPS burst, {baseline:0.#} baseline, {IopsCredits:0} credits; " : $"{MaxIops:0} IOPS; ";
        var throughput = BaselineBytesPerSecond is { } b ? $"{MaxBytesPerSecond / MiB:0.#} MiB/s burst, {b / MiB:0.#} baseline, {ThroughputCredits / MiB:0} MiB of credits" : $"{MaxBytesPerSecond / MiB:0.#} MiB/s";
        return $"{Name} {Capacity / (double)GiB:0.##} GiB: {iops}{throughput}; I/O counted in {IoUnitBytes / 1024} KiB units";
    }

    private static VolumeProfile Throughput(string name, long capacity, double baselinePerTiB, double burstPerTiB, double most, int iops, double tib) =>
        new(name, capacity, 1 << 20, iops, null, 0, Math.Min(burstPerTiB * tib, most) * MiB, Math.Min(baselinePerTiB * tib, most) * MiB, tib * TiB);

    private static void Require(bool condition, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException(problem);
        }
    }
}
