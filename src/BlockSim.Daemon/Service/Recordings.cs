using System.Text.RegularExpressions;
using BlockSim.Storage.Simulation.Recording;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Service;

/// <summary>
/// Where recordings go and how one starts, for both ways of starting one: the control API's <c>record</c>
/// route on a running export, and <c>"record"</c> in an export's configuration (from its first write). Logs
/// and bases go in one folder under plain names, never at a path a caller gives: the daemon does not write
/// files where a caller points it, and a recording is evidence, so none is ever overwritten.
/// </summary>
internal static partial class Recordings
{
    public const string FolderName = "recordings";

    /// <summary>Beside the admin socket; in the data directory when there is none (or it is the default).</summary>
    public static string Folder(string? controlSocket, string dataRoot) =>
        Path.Combine(controlSocket is null or "none" ? dataRoot : Path.GetDirectoryName(Path.GetFullPath(controlSocket))!, FolderName);

    /// <summary>Why <paramref name="log"/> cannot name a recording, or null.</summary>
    public static string? NameProblem(string? log, string folder) => log is null || !LogName().IsMatch(log)
        ? $"a plain name of 1 to 100 letters, digits, '.', '-' or '_' (no folder): the log goes in {folder}."
        : null;

    /// <summary>The log, and the image it starts from (a volume file for a volume export, a raw image otherwise).</summary>
    public static (string Log, string Image) Paths(string folder, string log, bool volume)
    {
        var stem = log.EndsWith(".bslog", StringComparison.Ordinal) ? log[..^6] : log;
        return (Path.Combine(folder, stem + ".bslog"), Path.Combine(folder, stem + (volume ? ".base.vol" : ".base.img")));
    }

    /// <summary>Why a recording of that name cannot start: it exists already. Null when it can.</summary>
    public static string? ExistsProblem(string folder, string log, bool volume)
    {
        var (logPath, image) = Paths(folder, log, volume);
        return File.Exists(logPath) || File.Exists(image)
            ? $"{logPath} or its base {image} already exists: a recording is evidence and is never overwritten; choose another name."
            : null;
    }

    /// <summary>
    /// Flushes the device under the recording slot, writes the base image from it (so the log's first state is
    /// what was durable), and puts the recorder in place. The caller makes sure no request is in flight: the
    /// export is paused, or no client has attached yet. On failure the half-written base is removed.
    /// </summary>
    public static async Task<(string Log, string Image, long FromSequence)> BeginAsync(ExportSimulation simulation, string folder, string log, CancellationToken cancellationToken)
    {
        var (logPath, image) = Paths(folder, log, simulation.VolumeHeader is not null);
        var slot = simulation.Recording ?? throw new InvalidOperationException($"Export '{simulation.Name}' has no device yet.");
        try
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            await slot.Below.FlushAsync(cancellationToken).ConfigureAwait(false); // the base is what is durable
            await (simulation.VolumeHeader is { } header
                ? DeviceImage.WriteVolumeAsync(image, header(), slot.Below, cancellationToken)
                : DeviceImage.WriteRawAsync(image, slot.Below, cancellationToken)).ConfigureAwait(false);
            slot.Start(WriteLogWriter.Create(logPath, slot.Below.SectorSize, slot.Below.Capacity));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(image);
            throw;
        }

        return (logPath, image, simulation.Control!.Note("record-started", $"{logPath} from {image}"));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex LogName();
}
