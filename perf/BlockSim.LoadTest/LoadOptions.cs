namespace BlockSim.LoadTest;

public enum AccessPattern
{
    Random,
    Sequential,
}

/// <summary>One load scenario. Sizes are bytes; times are wall-clock.</summary>
public sealed record LoadOptions
{
    /// <summary>nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH.</summary>
    public required string Url { get; init; }

    public AccessPattern Pattern { get; init; } = AccessPattern.Random;

    /// <summary>Share of requests that are reads, 0..100 (100: read only, 0: write only).</summary>
    public int ReadPercent { get; init; } = 100;

    public int BlockSize { get; init; } = 4096;

    /// <summary>Requests kept in flight on each connection.</summary>
    public int QueueDepth { get; init; } = 32;

    public int Connections { get; init; } = 1;

    /// <summary>Requests per second over all connections (open loop); 0 means closed loop, as fast as answers come.</summary>
    public int Rate { get; init; }

    /// <summary>A rate that changes over the run (open loop), instead of <see cref="Rate"/>; its length is the run's, with no warm-up.</summary>
    public LoadShape? Shape { get; init; }

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes of the export to use from offset 0 (0: all of it).</summary>
    public long Range { get; init; }

    /// <summary>Write recognisable blocks and check every read of a block written in this run.</summary>
    public bool Verify { get; init; }

    /// <summary>Random seed for offsets and data, so a run can be repeated.</summary>
    public int Seed { get; init; } = 1;

    public int Slots => QueueDepth * Connections;

    public string Describe() =>
        $"{(Pattern == AccessPattern.Random ? "random" : "sequential")} {Mix()}, {BlockSize / 1024.0:0.#} KiB blocks, QD {QueueDepth} x {Connections} connection(s), "
        + (Shape is not null ? $"open loop: {Shape}" : Rate > 0 ? $"open loop at {Rate} req/s" : "closed loop")
        + (Shape is not null ? "" : $", warm-up {Warmup.TotalSeconds:0.#} s, {Duration.TotalSeconds:0.#} s measured") + (Verify ? ", data verified" : "");

    private string Mix() => ReadPercent switch
    {
        100 => "read",
        0 => "write",
        _ => $"{ReadPercent}/{100 - ReadPercent} read/write",
    };
}
