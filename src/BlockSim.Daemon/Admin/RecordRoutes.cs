using System.Text.RegularExpressions;
using BlockSim.Daemon.Service;
using BlockSim.Storage.Simulation.Recording;
using BlockSim.Storage.Volumes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// Recording an export's writes for the crash-state explorer: <c>POST /v1/exports/NAME/record {"log":
/// "run1"}</c> starts, <c>DELETE</c> stops. The log and the image it starts from go in the folder
/// <see cref="Folder"/> beside the admin socket, under a plain name, never at a path the caller gives:
/// the daemon does not write files where a caller points it. Start pauses the export (requests in flight
/// drain), flushes it, writes the base image (a volume file of its own for a volume, a raw image for a
/// memory export), puts the recorder in place and resumes; so the log's first state is the base.
/// </summary>
internal static partial class RecordRoutes
{
    public const string Folder = "recordings";

    public static void Map(WebApplication app, IReadOnlyDictionary<string, ExportSimulation> exports, string folder, ILogger logger)
    {
        app.MapPost("/v1/exports/{name}/record", (HttpContext http, string name) => ControlRoutes.With(http, exports, name, async simulation =>
        {
            if (await AdminEndpoint.ReadAsync<RecordRequest>(http, "recording").ConfigureAwait(false) is not { } request)
            {
                return;
            }

            if (Refusal(simulation, request, folder) is { } refusal)
            {
                await AdminEndpoint.Answer(http, refusal.Status, refusal.Error).ConfigureAwait(false);
                return;
            }

            var (log, image) = Paths(folder, request.Log!, simulation);
            var control = simulation.Control!;
            var slot = simulation.Recording!;
            await control.PauseAsync(http.RequestAborted).ConfigureAwait(false);
            long from;
            try
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                await slot.Below.FlushAsync(http.RequestAborted).ConfigureAwait(false); // the base is what is durable
                await (simulation.VolumeHeader is { } header
                    ? DeviceImage.WriteVolumeAsync(image, header(), slot.Below, http.RequestAborted)
                    : DeviceImage.WriteRawAsync(image, slot.Below, http.RequestAborted)).ConfigureAwait(false);
                slot.Start(WriteLogWriter.Create(log, slot.Below.SectorSize, slot.Below.Capacity));
                from = control.Note("record-started", $"{log} from {image}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                File.Delete(image);
                await AdminEndpoint.Answer(http, StatusCodes.Status500InternalServerError, new AdminError("RecordingFailed", $"Export '{name}': the recording could not start: {e.Message}")).ConfigureAwait(false);
                return;
            }
            finally
            {
                control.Resume();
            }

            DaemonLog.SimulationChanged(logger, name, AdminEndpoint.CallerOf(http), $"started recording to {log}", from);
            await AdminEndpoint.Answer(http, StatusCodes.Status201Created, new { log, @base = image, fromSequence = from }).ConfigureAwait(false);
        }));

        app.MapDelete("/v1/exports/{name}/record", (HttpContext http, string name) => ControlRoutes.With(http, exports, name, async simulation =>
        {
            if (simulation.Recording?.Log is null)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status409Conflict, new AdminError("NotRecording", $"Export '{name}' is not being recorded.")).ConfigureAwait(false);
                return;
            }

            var control = simulation.Control!;
            await control.PauseAsync(http.RequestAborted).ConfigureAwait(false);
            WriteLogWriter? stopped;
            long from;
            try
            {
                stopped = simulation.Recording.Stop();
                from = control.Note("record-stopped", $"{stopped?.Records} records");
            }
            finally
            {
                control.Resume();
            }

            DaemonLog.SimulationChanged(logger, name, AdminEndpoint.CallerOf(http), "stopped recording", from);
            await AdminEndpoint.Answer(http, StatusCodes.Status200OK, new { records = stopped?.Records, fromSequence = from }).ConfigureAwait(false);
        }));
    }

    private static (int Status, AdminError Error)? Refusal(ExportSimulation simulation, RecordRequest request, string folder)
    {
        var name = simulation.Name;
        if (request.Log is null || !LogName().IsMatch(request.Log))
        {
            return (StatusCodes.Status400BadRequest, new AdminError("ValidationException", $"log: a plain name of 1 to 100 letters, digits, '.', '-' or '_' (no folder): the log goes in {folder}."));
        }

        if (simulation.KeyIsEphemeral)
        {
            return (StatusCodes.Status409Conflict, new AdminError("KeyIsEphemeral", $"Export '{name}' is encrypted under a key that exists only in this process, so its recorded ciphertext could never be read back: record a volume, or a memory export without --encrypted."));
        }

        if (simulation.Recording is null)
        {
            return (StatusCodes.Status409Conflict, new AdminError("NotAttached", $"Export '{name}' has no device yet (a volume's is made when the first client attaches): attach a client, then start recording."));
        }

        if (simulation.Recording.Log is not null)
        {
            return (StatusCodes.Status409Conflict, new AdminError("AlreadyRecording", $"Export '{name}' is already being recorded; stop that recording first."));
        }

        var (log, image) = Paths(folder, request.Log, simulation);
        return File.Exists(log) || File.Exists(image)
            ? (StatusCodes.Status409Conflict, new AdminError("AlreadyExists", $"{log} or its base {image} already exists: a recording is evidence and is never overwritten; choose another name."))
            : null;
    }

    /// <summary>The log, and the image it starts from (a volume file for a volume export, a raw image otherwise).</summary>
    private static (string Log, string Image) Paths(string folder, string log, ExportSimulation simulation)
    {
        var stem = log.EndsWith(".bslog", StringComparison.Ordinal) ? log[..^6] : log;
        return (Path.Combine(folder, stem + ".bslog"), Path.Combine(folder, stem + (simulation.VolumeHeader is null ? ".base.img" : ".base.vol")));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex LogName();

    private sealed class RecordRequest
    {
        public string? Log { get; set; }
    }
}
