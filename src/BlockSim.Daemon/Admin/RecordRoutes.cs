using BlockSim.Daemon.Service;
using BlockSim.KeyStore;
using BlockSim.Storage.Simulation.Recording;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// Recording an export's writes for the crash-state explorer: <c>POST /v1/exports/NAME/record {"log":
/// "run1"}</c> starts, <c>DELETE</c> stops. The log and the image it starts from go in the folder
/// the folder <see cref="Recordings.Folder"/> names, under a plain name, never at a path the caller gives:
/// the daemon does not write files where a caller points it. Start pauses the export (requests in flight
/// drain), flushes it, writes the base image (a volume file of its own for a volume, a raw image for a
/// memory export), puts the recorder in place and resumes; so the log's first state is the base.
/// </summary>
internal static class RecordRoutes
{
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

            var control = simulation.Control!;
            await control.PauseAsync(http.RequestAborted).ConfigureAwait(false);
            (string Log, string Image, long From) started;
            try
            {
                started = await Recordings.BeginAsync(simulation, folder, request.Log!, http.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await AdminEndpoint.Answer(http, StatusCodes.Status500InternalServerError, new AdminError(KeyStoreErrors.RecordingFailed, $"Export '{name}': the recording could not start: {e.Message}")).ConfigureAwait(false);
                return;
            }
            finally
            {
                control.Resume();
            }

            var (log, image, from) = started;
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
        if (Recordings.NameProblem(request.Log, folder) is { } badName)
        {
            return (StatusCodes.Status400BadRequest, new AdminError(KeyStoreErrors.Validation, $"log: {badName}"));
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

        return Recordings.ExistsProblem(folder, request.Log!, simulation.VolumeHeader is not null) is { } exists
            ? (StatusCodes.Status409Conflict, new AdminError("AlreadyExists", exists))
            : null;
    }

    private sealed class RecordRequest
    {
        public string? Log { get; set; }
    }
}
