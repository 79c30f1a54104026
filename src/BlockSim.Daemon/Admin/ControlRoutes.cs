using BlockSim.Daemon.Service;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;
using BlockSim.Storage.Simulation.Latency;
using BlockSim.Storage.Simulation.Profiles;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The simulator's control API on the admin socket, per export: its simulation, fault rules, pause and
/// resume, power cut, marks and event log. Every change answers with the request sequence number from which
/// it applies and is logged with the caller the kernel named.
/// </summary>
internal static class ControlRoutes
{
    public static void Map(WebApplication app, IReadOnlyDictionary<string, ExportSimulation> exports, NbdServer server, ILogger logger)
    {
        app.MapGet("/v1/exports", (HttpContext http) =>
            AdminEndpoint.Answer(http, StatusCodes.Status200OK, exports.Values.OrderBy(e => e.Name, StringComparer.Ordinal).Select(Show).ToList()));

        app.MapGet("/v1/exports/{name}/simulation", (HttpContext http, string name) =>
            With(http, exports, name, simulation => AdminEndpoint.Answer(http, StatusCodes.Status200OK, Show(simulation))));

        app.MapMethods("/v1/exports/{name}/simulation", ["PATCH"], (HttpContext http, string name) => With(http, exports, name, async simulation =>
        {
            if (await AdminEndpoint.ReadAsync<SimulationPatch>(http, "simulation").ConfigureAwait(false) is not { } patch)
            {
                return;
            }

            if (patch.RangeProblem() is { } range)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, $"Export '{name}': {range}")).ConfigureAwait(false);
                return;
            }

            if (patch.MissingLayer(simulation.Layers, simulation.Attached) is { } missing)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status409Conflict, new AdminError(KeyStoreErrors.KmsInvalidState, $"Export '{name}': {missing}")).ConfigureAwait(false);
                return;
            }

            patch.Apply(simulation.Layers);
            var from = simulation.Control!.Note("simulation-changed", patch.ToString());
            Changed(logger, http, name, $"changed its simulation: {patch}", from);
            await AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { simulation = Show(simulation), fromSequence = from }).ConfigureAwait(false);
        }));

        app.MapGet("/v1/exports/{name}/faults", (HttpContext http, string name) =>
            With(http, exports, name, simulation => AdminEndpoint.Answer(http, StatusCodes.Status200OK, Rules(simulation.Control!))));

        app.MapPost("/v1/exports/{name}/faults", (HttpContext http, string name) => With(http, exports, name, async simulation =>
        {
            if (await AdminEndpoint.ReadAsync<FaultRuleRequest>(http, "fault rule").ConfigureAwait(false) is not { } request)
            {
                return;
            }

            var control = simulation.Control!;
            FaultRule rule;
            long from;
            try
            {
                (rule, from) = control.Add(request.ToRule(control.SectorSize));
            }
            catch (ArgumentException e)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, $"Fault rule: {e.Message}")).ConfigureAwait(false);
                return;
            }

            Changed(logger, http, name, $"added fault rule {rule.Id} ({rule.Kind} on {rule.Operations}, sectors {rule.FirstSector}..{rule.LastSector})", from);
            await AdminEndpoint.Answer(http, StatusCodes.Status201Created, new { rule = View(rule, 0, 0), fromSequence = from }).ConfigureAwait(false);
        }));

        app.MapDelete("/v1/exports/{name}/faults/{id:int}", (HttpContext http, string name, int id) => With(http, exports, name, simulation =>
        {
            if (simulation.Control!.Remove(id) is not { } from)
            {
                return AdminEndpoint.Answer(http, StatusCodes.Status404NotFound, new AdminError(KeyStoreErrors.NotFound, $"Export '{name}' has no fault rule {id}."));
            }

            Changed(logger, http, name, $"removed fault rule {id}", from);
            return AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { fromSequence = from });
        }));

        app.MapDelete("/v1/exports/{name}/faults", (HttpContext http, string name) => With(http, exports, name, simulation =>
        {
            var (removed, from) = simulation.Control!.Clear();
            Changed(logger, http, name, $"removed every fault rule ({removed})", from);
            return AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { removed, fromSequence = from });
        }));

        app.MapPost("/v1/exports/{name}/pause", (HttpContext http, string name) => With(http, exports, name, async simulation =>
        {
            var sequence = await simulation.Control!.PauseAsync(http.RequestAborted).ConfigureAwait(false);
            Changed(logger, http, name, "paused (requests in flight drained; new ones wait)", sequence + 1);
            await AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { paused = true, lastSequence = sequence }).ConfigureAwait(false);
        }));

        app.MapPost("/v1/exports/{name}/resume", (HttpContext http, string name) => With(http, exports, name, simulation =>
        {
            var from = simulation.Control!.Resume();
            Changed(logger, http, name, "resumed", from);
            return AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { paused = false, fromSequence = from });
        }));

        app.MapPost("/v1/exports/{name}/power-cut", (HttpContext http, string name) => With(http, exports, name, simulation =>
        {
            if (simulation.Cache is not { } cache)
            {
                var why = simulation.Settings.VolatileCache ? "no client has attached it yet, so it has no cache to lose" : "it has no volatile cache (\"volatileCache\": true in its simulation)";
                return AdminEndpoint.Answer(http, StatusCodes.Status409Conflict, new AdminError("NoVolatileCache", $"Export '{name}': no power cut: {why}."));
            }

            return PowerCutAsync(http, name, simulation, cache, server, logger);
        }));

        app.MapPost("/v1/exports/{name}/disconnect", (HttpContext http, string name) => With(http, exports, name, async simulation =>
        {
            if (await AdminEndpoint.ReadAsync<DisconnectRequest>(http, "disconnect").ConfigureAwait(false) is not { } request)
            {
                return;
            }

            if (!ValidDown(request.DownSeconds))
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, "downSeconds: give 0 to 86400.")).ConfigureAwait(false);
                return;
            }

            var dropped = Disconnect(server, name, request.DownSeconds);
            var what = $"disconnected {dropped} clients{Down(request.DownSeconds)}";
            var from = simulation.Control!.Note("disconnect", what);
            Changed(logger, http, name, what, from);
            await AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { dropped, downSeconds = request.DownSeconds, fromSequence = from }).ConfigureAwait(false);
        }));

        app.MapPost("/v1/exports/{name}/marks", (HttpContext http, string name) => With(http, exports, name, async simulation =>
        {
            if (await AdminEndpoint.ReadAsync<MarkRequest>(http, "mark").ConfigureAwait(false) is not { } mark)
            {
                return;
            }

            if (string.IsNullOrWhiteSpace(mark.Name) || mark.Name.Length > 200)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, "A mark needs a name of 1 to 200 characters.")).ConfigureAwait(false);
                return;
            }

            var at = simulation.Control!.Mark(mark.Name);
            var recorded = simulation.Recording?.Mark(mark.Name); // a running recording gets it too, as a crash point
            await AdminEndpoint.Answer(http, StatusCodes.Status201Created, new { mark = mark.Name, sequence = at, recordedAt = recorded }).ConfigureAwait(false);
        }));

        app.MapGet("/v1/exports/{name}/events", (HttpContext http, string name, long? after, int? limit) => With(http, exports, name, simulation =>
        {
            var control = simulation.Control!;
            var events = control.Events(after ?? 0, Math.Clamp(limit ?? 1000, 1, SimulationControl.MaxEvents));
            return AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { events, dropped = control.EventsDropped });
        }));
    }

    private static async Task PowerCutAsync(HttpContext http, string name, ExportSimulation simulation, VolatileCacheDevice cache, NbdServer server, ILogger logger)
    {
        if (await AdminEndpoint.ReadAsync<PowerCutRequest>(http, "power cut").ConfigureAwait(false) is not { } request)
        {
            return;
        }

        if (double.IsNaN(request.Survival) || request.Survival is < 0 or > 1 || !s_tearing.TryGetValue(request.Tearing, out var tearing) || !ValidDown(request.DownSeconds))
        {
            await AdminEndpoint.Answer(http, StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, $"A power cut takes survival 0 to 1, tearing {string.Join(", ", s_tearing.Keys)}, and downSeconds 0 to 86400.")).ConfigureAwait(false);
            return;
        }

        // Clients go first, so that nothing they still send lands after the cut as if the power had stayed on.
        var dropped = request.Disconnect || request.DownSeconds > 0 ? Disconnect(server, name, request.DownSeconds) : 0;
        var result = cache.PowerCut(new PowerCutOptions(request.Survival, tearing, simulation.Seed));
        var what = $"power cut (survival {request.Survival}, tearing {request.Tearing}): {result.LostSectors} unflushed sectors lost, {result.SurvivingSectors} survived, {result.TornWrites} writes torn"
            + (request.Disconnect || request.DownSeconds > 0 ? $"; {dropped} clients disconnected{Down(request.DownSeconds)}" : "");
        var from = simulation.Control!.Note("power-cut", what);
        Changed(logger, http, name, what, from);
        await AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { lostSectors = result.LostSectors, survivingSectors = result.SurvivingSectors, tornWrites = result.TornWrites, fromSequence = from }).ConfigureAwait(false);
    }

    private static bool ValidDown(double seconds) => !double.IsNaN(seconds) && seconds is >= 0 and <= 86400;

    private static string Down(double seconds) => seconds > 0 ? $", attaches refused for {seconds} s" : "";

    /// <summary>Takes the export down for a while (if asked), then drops its clients: they find it gone when they come back.</summary>
    private static int Disconnect(NbdServer server, string name, double downSeconds)
    {
        if (downSeconds > 0)
        {
            server.Exports.TakeDown(name, TimeSpan.FromSeconds(downSeconds));
        }

        return server.Disconnect(name);
    }

    private static readonly Dictionary<string, PowerCutTearing> s_tearing = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = PowerCutTearing.None, ["sector"] = PowerCutTearing.Sector, ["4k"] = PowerCutTearing.Block4K,
    };

    /// <summary>Runs the action on the named export's simulation, or answers 404 naming the exports there are.</summary>
    internal static Task With(HttpContext http, IReadOnlyDictionary<string, ExportSimulation> exports, string name, Func<ExportSimulation, Task> action) =>
        exports.TryGetValue(name, out var simulation) && simulation.Control is not null
            ? action(simulation)
            : AdminEndpoint.Answer(http, StatusCodes.Status404NotFound, new AdminError(KeyStoreErrors.NotFound, $"This daemon serves no export '{name}' (it serves {string.Join(", ", exports.Keys.Order(StringComparer.Ordinal))})."));

    private static object Show(ExportSimulation simulation)
    {
        var control = simulation.Control;
        return new
        {
            export = simulation.Name,
            seed = simulation.Seed,
            sectorSize = control?.SectorSize,
            sectors = control?.Sectors,
            configured = simulation.Settings.IsEmpty ? "none" : simulation.Settings.ToString(),
            now = Live(simulation.Layers),
            paused = control?.IsPaused ?? false,
            sequence = control?.Sequence ?? 0,
            faultRules = control?.Rules.Count ?? 0,
            dirtySectors = simulation.Cache?.DirtySectors,
            recording = simulation.Recording?.Log is { } log ? new { records = log.Records } : null,
            profile = Profile(simulation.Layers.Profile),
            ssd = Ssd(simulation.Layers.Ssd),
        };
    }

    /// <summary>The configured layers' values as they stand (after any PATCH); null before the device exists.</summary>
    private static object? Live(SimulationLayers layers) => layers.Latency is null && layers.Throttle is null && layers.Faults is null ? null : new
    {
        latencyMs = layers.Latency?.Mean.TotalMilliseconds,
        jitterMs = layers.Latency?.Jitter.TotalMilliseconds,
        iops = layers.Throttle?.Iops,
        bandwidth = layers.Throttle?.BytesPerSecond,
        failReads = layers.Faults?.Options.ReadProbability,
        failWrites = layers.Faults?.Options.WriteProbability,
    };

    /// <summary>The cloud volume type the export behaves like, and its credit balances as they stand.</summary>
    private static object? Profile(ProfileDevice? device) => device is null ? null : new
    {
        name = device.Profile.Name,
        description = device.Profile.ToString(),
        iopsCredits = device.IopsCreditBalance is { } iops ? Math.Round(Math.Max(0, iops)) : (double?)null,
        iopsCreditCapacity = device.IopsCreditBalance is null ? (double?)null : device.Profile.IopsCredits,
        throughputCreditBytes = device.ThroughputCreditBalance is { } bytes ? Math.Round(Math.Max(0, bytes)) : (double?)null,
        throughputCreditCapacity = device.ThroughputCreditBalance is null ? (double?)null : device.Profile.ThroughputCredits,
    };

    /// <summary>The solid-state disk's flash counts, read once so they agree with each other.</summary>
    private static object? Ssd(SsdDevice? device)
    {
        if (device is null)
        {
            return null;
        }

        var (host, moved, erases, amplification) = device.Counts;
        return new { writeAmplification = Math.Round(amplification, 3), hostPages = host, movedPages = moved, erases };
    }

    private static List<object> Rules(SimulationControl control) => control.Rules.Select(r => View(r.Rule, r.Hits, r.Injected)).ToList();

    private static object View(FaultRule rule, long hits, long injected) => new
    {
        id = rule.Id,
        kind = rule.Kind.ToString(),
        operations = rule.Operations.ToString(),
        firstSector = rule.FirstSector,
        lastSector = rule.LastSector,
        errno = rule.Kind is FaultKind.Error ? FaultRule.ErrorNumbers.First(e => e.Value == rule.Errno).Key : null,
        probability = rule.Probability,
        nth = rule.Nth,
        count = rule.Count,
        stallMs = rule.Kind == FaultKind.Stall ? rule.StallMilliseconds : (int?)null,
        shiftSectors = rule.Kind == FaultKind.Misdirect ? rule.ShiftSectors : (long?)null,
        aboveCipher = rule.AboveCipher ? true : (bool?)null,
        hits,
        injected,
    };

    private static void Changed(ILogger logger, HttpContext http, string export, string what, long fromSequence) =>
        DaemonLog.SimulationChanged(logger, export, AdminEndpoint.CallerOf(http), what, fromSequence);

    private sealed class PowerCutRequest
    {
        /// <summary>Chance that each piece of each unflushed write survives.</summary>
        public double Survival { get; set; }

        public string Tearing { get; set; } = "sector";

        /// <summary>Drop every client of the export as the power goes.</summary>
        public bool Disconnect { get; set; }

        /// <summary>And refuse attaches for this long (implies disconnecting).</summary>
        public double DownSeconds { get; set; }
    }

    private sealed class DisconnectRequest
    {
        public double DownSeconds { get; set; }
    }

    private sealed class MarkRequest
    {
        public string? Name { get; set; }
    }
}
