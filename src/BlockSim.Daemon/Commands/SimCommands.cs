using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BlockSim.Daemon.Admin;
using BlockSim.KeyStore;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim sim ...</c>: drives a running daemon's simulation through its admin socket (the control API):
/// fault rules aimed at sectors, pause and resume, power cuts, marks, and the event log.
/// </summary>
internal static class SimCommands
{
    public static Command Create()
    {
        var sim = new Command("sim", "Drive a running daemon's simulation: show, fault add|list|remove|clear, pause, resume, power-cut, mark, events.");
        var export = () => new Argument<string>("export") { Description = "The export's name." };

        var showExport = new Argument<string?>("export") { Description = "The export's name (all exports without it).", Arity = ArgumentArity.ZeroOrOne };
        var show = new Command("show", "The export's seed, sector size, configured behaviour, pause state, request count and rules.") { showExport };
        show.SetAction(r => Run(r, daemon => r.GetValue(showExport) is { } name
            ? Print(r, daemon.Send<JsonElement>(HttpMethod.Get, $"v1/exports/{Uri.EscapeDataString(name)}/simulation"), ShowLine)
            : Print(r, daemon.Send<JsonElement>(HttpMethod.Get, "v1/exports"), all => string.Join(Environment.NewLine, all.EnumerateArray().Select(ShowLine)))));

        sim.Subcommands.Add(show);
        sim.Subcommands.Add(CreateSet(export));
        sim.Subcommands.Add(CreateFault(export));

        var pauseExport = export();
        var pause = new Command("pause", "Hold the export's new requests; returns once those in flight have finished.") { pauseExport };
        pause.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Post, Path(r, pauseExport, "pause"), timeout: Timeout.InfiniteTimeSpan), a => $"paused after request {a.GetProperty("lastSequence")}")));
        sim.Subcommands.Add(pause);

        var resumeExport = export();
        var resume = new Command("resume", "Let the export's held requests go.") { resumeExport };
        resume.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Post, Path(r, resumeExport, "resume")), a => $"resumed from request {a.GetProperty("fromSequence")}")));
        sim.Subcommands.Add(resume);

        var cutExport = export();
        var survival = new Option<double>("--survival") { Description = "Chance (0 to 1) that each piece of each unflushed write survives. Default: 0, all lost." };
        var tearing = new Option<string>("--tearing") { Description = "The pieces: none (whole writes), sector, or 4k.", DefaultValueFactory = _ => "sector" };
        var cutDisconnect = new Option<bool>("--disconnect") { Description = "Drop every client of the export as the power goes." };
        var cutDown = new Option<double>("--down-seconds") { Description = "And refuse attaches for this long, as a disk that takes time to come back." };
        var cut = new Command("power-cut", "Cut the export's power: its volatile cache loses its unflushed writes, or some of them; each sector keeps its newest surviving version.") { cutExport, survival, tearing, cutDisconnect, cutDown };
        cut.SetAction(r => Run(r, daemon => Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Post, Path(r, cutExport, "power-cut"), new { survival = r.GetValue(survival), tearing = r.GetValue(tearing), disconnect = r.GetValue(cutDisconnect), downSeconds = r.GetValue(cutDown) }),
            a => $"power cut: {a.GetProperty("lostSectors")} unflushed sectors lost, {a.GetProperty("survivingSectors")} survived, {a.GetProperty("tornWrites")} writes torn (from request {a.GetProperty("fromSequence")})")));
        sim.Subcommands.Add(cut);

        var dropExport = export();
        var dropDown = new Option<double>("--down-seconds") { Description = "And refuse attaches for this long (ERR_SHUTDOWN at GO)." };
        var drop = new Command("disconnect", "Drop every client of the export at once, as a reset would: nothing in flight is answered.") { dropExport, dropDown };
        drop.SetAction(r => Run(r, daemon => Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Post, Path(r, dropExport, "disconnect"), new { downSeconds = r.GetValue(dropDown) }),
            a => $"{a.GetProperty("dropped")} clients disconnected (from request {a.GetProperty("fromSequence")})")));
        sim.Subcommands.Add(drop);

        var markExport = export();
        var markName = new Argument<string>("name") { Description = "What to call this point in the request stream." };
        var mark = new Command("mark", "Put a named mark in the export's event log at the current request.") { markExport, markName };
        mark.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Post, Path(r, markExport, "marks"), new { name = r.GetValue(markName) }), a => $"mark '{a.GetProperty("mark").GetString()}' at request {a.GetProperty("sequence")}")));
        sim.Subcommands.Add(mark);

        var eventsExport = export();
        var after = new Option<long>("--after") { Description = "Only events after this event id." };
        var limit = new Option<int>("--limit") { Description = "At most this many events.", DefaultValueFactory = _ => 1000 }.InRange(1, 10_000);
        var events = new Command("events", "The export's event log: every injected fault with its request, range and rule, and every change.") { eventsExport, after, limit };
        events.SetAction(r => Run(r, daemon => Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Get, Path(r, eventsExport, string.Create(CultureInfo.InvariantCulture, $"events?after={r.GetValue(after)}&limit={r.GetValue(limit)}"))),
            log => string.Join(Environment.NewLine, log.GetProperty("events").EnumerateArray().Select(EventLine)))));
        sim.Subcommands.Add(events);
        return sim;
    }

    private static Command CreateSet(Func<Argument<string>> export)
    {
        var setExport = export();
        var latency = new Option<double?>("--latency-ms") { Description = "New delay per request, in milliseconds." };
        var jitter = new Option<double?>("--jitter-ms") { Description = "New ± variation of the delay." };
        var iops = new Option<int?>("--iops") { Description = "New limit on requests per second (0: none)." };
        var bandwidth = new Option<string?>("--bandwidth") { Description = "New limit on bytes per second, e.g. 50M (0: none)." };
        var failReads = new Option<double?>("--fail-reads") { Description = "New probability (0..1) that a read fails with EIO." };
        var failWrites = new Option<double?>("--fail-writes") { Description = "New probability (0..1) that a write fails with EIO." };
        var set = new Command("set", "Change the export's configured behaviour for requests from now on (a layer it was started with).") { setExport, latency, jitter, iops, bandwidth, failReads, failWrites };
        set.SetAction(r => Run(r, daemon => Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Patch, Path(r, setExport, "simulation"), new SimulationPatch
            {
                LatencyMs = r.GetValue(latency),
                JitterMs = r.GetValue(jitter),
                Iops = r.GetValue(iops),
                Bandwidth = r.GetValue(bandwidth),
                FailReads = r.GetValue(failReads),
                FailWrites = r.GetValue(failWrites),
            }),
            a => $"{ShowLine(a.GetProperty("simulation"))} (from request {a.GetProperty("fromSequence")})")));
        return set;
    }

    private static Command CreateFault(Func<Argument<string>> export)
    {
        var fault = new Command("fault", "Fault rules aimed at sectors: add, list, remove, clear.");
        var addExport = export();
        var kind = new Option<string>("--kind") { Description = "error (with --errno), latent (reads fail until rewritten), stall (with --stall-ms), lost-write, bit-flip, misdirect (with --shift-sectors), reset (the connection dropped).", DefaultValueFactory = _ => "error" };
        var operations = new Option<string[]>("--op") { Description = "read, write, flush, trim, write-zeroes or all (repeatable). Default: read; write for lost-write; all for stall." };
        var sectors = new Option<string?>("--sectors") { Description = "FIRST or FIRST-LAST, in the export's sectors (sim show gives their size). Default: the whole export." };
        var offset = new Option<long?>("--offset") { Description = "The range in bytes instead: from this offset..." };
        var length = new Option<long?>("--length") { Description = "...for this many bytes." };
        var errno = new Option<string?>("--errno") { Description = "EIO (default), ENOSPC, EPERM or ESHUTDOWN." };
        var probability = new Option<double>("--probability") { Description = "Chance that a request hitting the range is faulted, decided by the export's seeded dice.", DefaultValueFactory = _ => 1 };
        var nth = new Option<long?>("--nth") { Description = "Only the n-th request that hits the range." };
        var count = new Option<long?>("--count") { Description = "At most this many faults." };
        var stall = new Option<int>("--stall-ms") { Description = "How long a stall holds a request." };
        var shift = new Option<long>("--shift-sectors") { Description = "How far a misdirected write lands from where it was sent, in sectors." };
        var aboveCipher = new Option<bool>("--above-cipher") { Description = "A bit-flip in the plaintext, above the encryption: one bit changes, where under it (the default) a whole 16-byte block is garbled." };
        var add = new Command("add", "Add a fault rule; prints it and the request from which it applies.") { addExport, kind, operations, sectors, offset, length, errno, probability, nth, count, stall, shift, aboveCipher };
        add.SetAction(r => Run(r, daemon =>
        {
            var (first, last) = ParseSectors(r.GetValue(sectors));
            var request = new FaultRuleRequest
            {
                Kind = r.GetValue(kind)!,
                Operations = r.GetValue(operations) is { Length: > 0 } ops ? [.. ops] : null,
                FirstSector = first,
                LastSector = last,
                Offset = r.GetValue(offset),
                Length = r.GetValue(length),
                Errno = r.GetValue(errno),
                Probability = r.GetValue(probability),
                Nth = r.GetValue(nth),
                Count = r.GetValue(count),
                StallMs = r.GetValue(stall),
                ShiftSectors = r.GetValue(shift),
                AboveCipher = r.GetValue(aboveCipher),
            };
            return Print(r, daemon.Send<JsonElement>(HttpMethod.Post, Path(r, addExport, "faults"), request), a => $"{RuleLine(a.GetProperty("rule"))}  (from request {a.GetProperty("fromSequence")})");
        }));

        var listExport = export();
        var list = new Command("list", "The export's fault rules, with how many requests hit each and how many were faulted.") { listExport };
        list.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Get, Path(r, listExport, "faults")), rules => string.Join(Environment.NewLine, rules.EnumerateArray().Select(RuleLine)))));

        var removeExport = export();
        var id = new Argument<int>("id") { Description = "The rule's id (fault list shows it)." };
        var remove = new Command("remove", "Remove one fault rule.") { removeExport, id };
        remove.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Delete, Path(r, removeExport, $"faults/{r.GetValue(id)}")), a => $"rule {r.GetValue(id)} removed (from request {a.GetProperty("fromSequence")})")));

        var clearExport = export();
        var clear = new Command("clear", "Remove every fault rule of the export.") { clearExport };
        clear.SetAction(r => Run(r, daemon => Print(r, daemon.Send<JsonElement>(HttpMethod.Delete, Path(r, clearExport, "faults")), a => $"{a.GetProperty("removed")} rules removed (from request {a.GetProperty("fromSequence")})")));

        fault.Subcommands.Add(add);
        fault.Subcommands.Add(list);
        fault.Subcommands.Add(remove);
        fault.Subcommands.Add(clear);
        return fault;
    }

    /// <param name="why">What needs the daemon, for the message when none answers.</param>
    internal static int Run(ParseResult r, Func<AdminConnection, int> body, string why = "the simulation is driven on a running daemon (blocksim serve)") => CliContext.Run(r, () =>
    {
        var socket = CliContext.ControlSocket(r);
        if (socket == "none" || !AdminConnection.IsServed(socket))
        {
            throw new KeyStoreException(KeyStoreErrors.NotFound, $"No daemon answers on {socket}: {why}, through its admin socket (--control PATH, or --config FILE of the daemon).");
        }

        using var daemon = new AdminConnection(socket);
        return body(daemon);
    });

    internal static string Path(ParseResult r, Argument<string> export, string rest) => $"v1/exports/{Uri.EscapeDataString(r.GetValue(export)!)}/{rest}";

    internal static int Print(ParseResult r, JsonElement answer, Func<JsonElement, string> human)
    {
        Console.WriteLine(r.GetValue(CliContext.Json) ? JsonSerializer.Serialize(answer, CliJson.Output.JsonElement) : human(answer));
        return ExitCodes.Ok;
    }

    private static (long? First, long? Last) ParseSectors(string? text)
    {
        if (text is null)
        {
            return (null, null);
        }

        var parts = text.Split('-', 2);
        if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || (parts.Length == 2 && !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"--sectors {text}: give FIRST or FIRST-LAST, e.g. 2048-2055.");
        }

        return (first, parts.Length == 2 ? long.Parse(parts[1], CultureInfo.InvariantCulture) : first);
    }

    private static string ShowLine(JsonElement e) =>
        $"{e.GetProperty("export").GetString()}: seed {e.GetProperty("seed")}, {e.GetProperty("sectorSize")}-byte sectors x {e.GetProperty("sectors")}, "
        + $"{(e.GetProperty("paused").GetBoolean() ? "PAUSED, " : "")}{e.GetProperty("sequence")} requests, {e.GetProperty("faultRules")} fault rules; configured: {e.GetProperty("configured").GetString()}"
        + (e.TryGetProperty("now", out var now) ? $"; now: {string.Join(", ", now.EnumerateObject().Select(p => $"{p.Name} {p.Value}"))}" : "")
        + (e.TryGetProperty("profile", out var profile) ? ProfileText(profile) : "")
        + (e.TryGetProperty("ssd", out var ssd) ? $"; ssd write amplification {ssd.GetProperty("writeAmplification")} ({ssd.GetProperty("hostPages")} pages written, {ssd.GetProperty("movedPages")} moved, {ssd.GetProperty("erases")} erases)" : "");

    /// <summary>"; profile aws-gp2 100 GiB: ...; iops credits 5000 of 5400000".</summary>
    private static string ProfileText(JsonElement profile) =>
        $"; profile {profile.GetProperty("description").GetString()}"
        + (profile.TryGetProperty("iopsCredits", out var iops) ? $"; iops credits {iops} of {profile.GetProperty("iopsCreditCapacity")}" : "")
        + (profile.TryGetProperty("throughputCreditBytes", out var bytes) ? $"; throughput credit {bytes} bytes of {profile.GetProperty("throughputCreditCapacity")}" : "");

    private static string RuleLine(JsonElement rule) =>
        $"rule {rule.GetProperty("id")}: {rule.GetProperty("kind").GetString()} on {rule.GetProperty("operations").GetString()}, sectors {rule.GetProperty("firstSector")}..{rule.GetProperty("lastSector")}"
        + (rule.TryGetProperty("errno", out var errno) ? $", {errno.GetString()}" : "")
        + (rule.GetProperty("probability").GetDouble() < 1 ? $", p={rule.GetProperty("probability")}" : "")
        + (rule.TryGetProperty("nth", out var nth) ? $", only hit {nth}" : "")
        + (rule.TryGetProperty("count", out var count) ? $", at most {count}" : "")
        + (rule.TryGetProperty("stallMs", out var stall) ? $", {stall} ms" : "")
        + (rule.TryGetProperty("shiftSectors", out var shift) ? $", shifted {shift} sectors" : "")
        + (rule.TryGetProperty("aboveCipher", out _) ? ", above the cipher" : "")
        + $"; {rule.GetProperty("hits")} hits, {rule.GetProperty("injected")} faulted";

    private static string EventLine(JsonElement e) =>
        $"{e.GetProperty("id"),6} request {e.GetProperty("sequence"),-8} {e.GetProperty("time").GetDateTimeOffset():HH:mm:ss.fff} {e.GetProperty("event").GetString()}"
        + (e.TryGetProperty("rule", out var rule) ? $" rule {rule}" : "")
        + (e.TryGetProperty("operation", out var op) ? $" {op.GetString()}" : "")
        + (e.TryGetProperty("offset", out var offset) ? $" offset {offset} length {e.GetProperty("length")}" : "")
        + (e.TryGetProperty("errno", out var errno) ? $" errno {errno}" : "")
        + (e.TryGetProperty("detail", out var detail) ? $" {detail.GetString()}" : "");
}
