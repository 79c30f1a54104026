using BlockSim.Daemon.Service;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using BlockSim.Storage;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim volume snapshot create|list|rollback|delete</c>: point-in-time copies of a volume, kept as
/// DATA-DIR/snapshots/NAME@LABEL.vol, and rolling the volume back to one. Offline, like resize: the volume's
/// lock decides, so each command that reads or replaces a volume is refused while a daemon serves it. No key
/// is unwrapped and the key store is not opened: a snapshot is the volume's ciphertext and header as they
/// are, which open with the volume's own key, so (as for resize) there is no key use to audit.
/// </summary>
internal static class SnapshotCommands
{
    public static Command Create()
    {
        var snapshot = new Command("snapshot", "Take, list, roll back to and delete snapshots of a volume that is not being served (full copies: reflinks where the file system can, else sparse).");

        var createName = SnapshotArgument();
        var create = new Command("create", "Snapshot a volume as it is now, as NAME@LABEL (a label is never reused while its snapshot exists).") { createName };
        create.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            var (volume, label) = DataDirectory.CheckSnapshotName(r.GetValue(createName)!);
            var path = VolumeCommands.Existing(data, volume);
            var target = data.SnapshotPath(volume, label);
            var progress = new ProgressReporter($"snapshotting {volume}", new FileInfo(path).Length);
            var clock = Stopwatch.StartNew();
            var copy = VolumeSnapshot.Create(path, target, progress: new SynchronousProgress(progress.Report));
            var created = new SnapshotCreated(Info(volume, label, target), copy.Method, copy.ReflinkRefusal, copy.BytesWritten, clock.Elapsed.TotalSeconds);
            CliContext.Print(r, created, CliJson.Output.SnapshotCreated, c => $"created snapshot {volume}@{label} ({c.Snapshot.Path})\n  {Describe(c.Snapshot)}\n  {HowCopied(c.Copy, c.ReflinkRefusal, c.BytesWritten, c.Seconds)}");
            return ExitCodes.Ok;
        }));

        var listName = new Argument<string>("name") { Description = "The volume whose snapshots to list." };
        var list = new Command("list", "List a volume's snapshots, oldest first: label, volume size then, creation time (UTC) and disk space taken.") { listName };
        list.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            var volume = DataDirectory.CheckVolumeName(r.GetValue(listName)!);
            var labels = Labels(data, volume);
            if (labels.Count == 0)
            {
                _ = VolumeCommands.Existing(data, volume); // no volume and no snapshots: say there is no such volume
            }

            var entries = labels.Select(l => ListEntry(data, volume, l)).OrderBy(e => e.Created).ThenBy(e => e.Label, StringComparer.Ordinal).ToList();
            CliContext.Print(r, entries, CliJson.Output.ListSnapshotInfo, all => all.Count == 0
                ? $"volume '{volume}' has no snapshots"
                : all.Aggregate(new TextTable("LABEL", "SIZE>", "CREATED", "ON DISK>", "STATE"), (t, e) => e.State == "ok"
                    ? t.Add(e.Label, ByteSize.Format(e.Capacity), Iso(e.Created), ByteSize.Format(e.AllocatedBytes), e.State)
                    : t.Add(e.Label, "-", "-", "-", e.State)).ToString());

            var unusable = entries.Where(e => e.State != "ok").ToList();
            if (unusable.Count == 0)
            {
                return ExitCodes.Ok;
            }

            if (!r.GetValue(CliContext.Json))
            {
                Console.Error.WriteLine($"{unusable.Count} of {entries.Count} snapshots cannot be used: {string.Join(", ", unusable.Select(e => $"{volume}@{e.Label}"))}. Delete them (blocksim volume snapshot delete {volume}@{unusable[0].Label} --yes) or restore them from a backup.");
            }

            return ExitCodes.IOError;
        }));

        var rollbackName = SnapshotArgument();
        var rollbackYes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var rollback = new Command("rollback", "Put a volume back as it was at NAME@LABEL; everything written since is lost. The snapshot is kept.") { rollbackName, rollbackYes };
        rollback.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            var (volume, label) = DataDirectory.CheckSnapshotName(r.GetValue(rollbackName)!);
            var path = VolumeCommands.Existing(data, volume);
            var source = Existing(data, volume, label);
            if (!CliContext.Confirm(r.GetValue(rollbackYes), $"WARNING: this puts volume '{volume}' ({path}) back as it was at snapshot {volume}@{label} ({Iso(File.GetLastWriteTimeUtc(source))}); everything written to it since is lost.", volume))
            {
                return ExitCodes.Usage;
            }

            var progress = new ProgressReporter($"rolling {volume} back", new FileInfo(source).Length);
            var clock = Stopwatch.StartNew();
            var done = VolumeSnapshot.Rollback(path, source, progress: new SynchronousProgress(progress.Report));
            var result = new SnapshotRolledBack(volume, Info(volume, label, source), done.Copy.Method, done.Copy.ReflinkRefusal, done.Copy.BytesWritten, done.KeptCurrentKeyWrapping, done.KeptReservation, clock.Elapsed.TotalSeconds);
            CliContext.Print(r, result, CliJson.Output.SnapshotRolledBack, b => $"rolled volume '{volume}' back to snapshot {volume}@{label}, taken {Iso(b.Snapshot.Created)}; the snapshot is kept\n  {HowCopied(b.Copy, b.ReflinkRefusal, b.BytesWritten, b.Seconds)}"
                + (b.KeptCurrentKeyWrapping ? "\n  the volume keeps its current key wrapping: it was re-wrapped after the snapshot was taken" : "")
                + (b.KeptReservation ? "\n  the volume had all its disk space allocated (as --preallocate does), and it is reserved again" : ""));
            return ExitCodes.Ok;
        }));

        var deleteName = SnapshotArgument();
        var deleteYes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var delete = new Command("delete", "Delete a snapshot; the volume is not touched.") { deleteName, deleteYes };
        delete.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            var (volume, label) = DataDirectory.CheckSnapshotName(r.GetValue(deleteName)!);
            var path = Existing(data, volume, label);
            if (!CliContext.Confirm(r.GetValue(deleteYes), $"WARNING: this deletes snapshot {volume}@{label} ({path}); the volume cannot be rolled back to it afterwards.", $"{volume}@{label}"))
            {
                return ExitCodes.Usage;
            }

            VolumeSnapshot.Delete(path);
            CliContext.Print(r, new SnapshotDeleted(volume, label, path), CliJson.Output.SnapshotDeleted, d => $"deleted snapshot {d.Volume}@{d.Label}");
            return ExitCodes.Ok;
        }));

        snapshot.Subcommands.Add(create);
        snapshot.Subcommands.Add(list);
        snapshot.Subcommands.Add(rollback);
        snapshot.Subcommands.Add(delete);
        return snapshot;
    }

    /// <summary>The labels of <paramref name="volume"/>'s snapshots, from the file names alone (no file is read).</summary>
    internal static IReadOnlyList<string> Labels(DataDirectory data, string volume) => Directory.Exists(data.SnapshotsPath)
        ? Directory.GetFiles(data.SnapshotsPath, $"{volume}@*.vol").Select(p => Path.GetFileNameWithoutExtension(p)[(volume.Length + 1)..]).Order(StringComparer.Ordinal).ToList()
        : [];

    public sealed record SnapshotInfo(string Volume, string Label, string Path, Guid VolumeId, long Capacity, DateTime Created, long AllocatedBytes, string State = "ok");

    public sealed record SnapshotCreated(SnapshotInfo Snapshot, FileCopyMethod Copy, string? ReflinkRefusal, long BytesWritten, double Seconds);

    public sealed record SnapshotRolledBack(string Volume, SnapshotInfo Snapshot, FileCopyMethod Copy, string? ReflinkRefusal, long BytesWritten, bool KeptCurrentKeyWrapping, bool KeptReservation, double Seconds);

    private static Argument<string> SnapshotArgument() => new("name@label") { Description = "The volume's name, '@', and the snapshot's label, which follows the rules for volume names: e.g. data@before-upgrade." };

    private static SnapshotInfo Info(string volume, string label, string path)
    {
        var file = VolumeSnapshot.Inspect(path);
        return new SnapshotInfo(volume, label, path, file.VolumeId, file.Capacity, file.CreatedUtc, file.AllocatedBytes);
    }

    /// <summary>A snapshot's info, or, for one that cannot be read, what is wrong with it; never throws for one bad file.</summary>
    private static SnapshotInfo ListEntry(DataDirectory data, string volume, string label)
    {
        var path = data.SnapshotPath(volume, label);
        try
        {
            return Info(volume, label, path);
        }
        catch (VolumeDamagedException e)
        {
            return new SnapshotInfo(volume, label, path, Guid.Empty, 0, File.GetLastWriteTimeUtc(path), 0, $"damaged: {e.Problem}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SnapshotInfo(volume, label, path, Guid.Empty, 0, File.GetLastWriteTimeUtc(path), 0, $"unreadable: {e.Message}");
        }
    }

    private static string Existing(DataDirectory data, string volume, string label)
    {
        var path = data.SnapshotPath(volume, label);
        return File.Exists(path) ? path : throw new FileNotFoundException($"There is no snapshot {volume}@{label} ({path}). See the volume's snapshots with: blocksim volume snapshot list {volume}");
    }

    private static string Describe(SnapshotInfo s) =>
        $"{s.Capacity} bytes of volume {s.VolumeId}, taken {Iso(s.Created)}, {ByteSize.Format(s.AllocatedBytes)} on disk";

    private static string HowCopied(FileCopyMethod method, string? refusal, long written, double seconds) => method == FileCopyMethod.Reflink
        ? string.Create(CultureInfo.InvariantCulture, $"copied as a reflink (blocks shared until written) in {seconds:0.###} s")
        : string.Create(CultureInfo.InvariantCulture, $"copied sparse, {ByteSize.Format(written)} of data, in {seconds:0.###} s (no reflink: {refusal})");

    private static string Iso(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
