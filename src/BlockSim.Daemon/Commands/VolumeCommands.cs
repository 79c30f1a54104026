using BlockSim.Daemon.Service;
using BlockSim.Storage;
using System.CommandLine;
using System.Globalization;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Etcd;
using BlockSim.Daemon.Volumes;
using BlockSim.Storage.Rbd.Volumes;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim volume ...</c>: encrypted volumes in the data directory (NAME.vol, served as export NAME), or
/// on Ceph RBD images (named rbd:POOL/IMAGE, served by an export that names it).
/// </summary>
internal static class VolumeCommands
{
    public static Command Create()
    {
        var volume = new Command("volume", "Create, list, inspect, re-wrap, resize, snapshot, import, export and delete encrypted volumes.");

        var name = new Argument<string>("name") { Description = "Volume (and export) name: letters, digits, '.', '_', '-'; or rbd:POOL/IMAGE for a volume on a Ceph RBD image." };
        var size = new Option<string>("--size") { Required = true, Description = "Capacity (bytes, or with K, M, G, T), a multiple of the sector size." };
        var key = new Option<string?>("--key") { Description = $"Master key id or alias. Default: {SealedKeyStore.DefaultAlias}." };
        var sector = new Option<int>("--sector-size") { Description = "Encryption sector size, 512 or 4096.", DefaultValueFactory = _ => 4096 }.OneOf(512, 4096);
        var preallocate = new Option<bool>("--preallocate") { Description = "Reserve the disk space now (with progress) instead of a sparse file." };
        var create = new Command("create", "Create an encrypted volume (sparse unless --preallocate); its key comes from the key store.") { name, size, key, sector, preallocate };
        create.SetAction(r => CliContext.Run(r, () =>
        {
            var volumeName = VolumeLocator.CheckName(r.GetValue(name)!);
            if (!ByteSize.TryParse(r.GetValue(size)!, out var bytes) || bytes <= 0 || bytes % r.GetValue(sector) != 0)
            {
                Console.Error.WriteLine($"--size {r.GetValue(size)}: give a positive multiple of {r.GetValue(sector)} bytes, e.g. 10G.");
                return ExitCodes.Usage;
            }

            if (r.GetValue(preallocate) && VolumeLocator.IsRbd(volumeName))
            {
                Console.Error.WriteLine("--preallocate is for volume files: an RBD image is thin-provisioned, and its space is the pool's (set a quota on the pool to reserve it).");
                return ExitCodes.Usage;
            }

            var data = CliContext.Data(r);
            using var volumes = CliContext.Volumes(r);
            var location = volumes.Resolve(volumeName);
            using var store = data.OpenOrCreateKeyStore(out _);
            if (location.Exists())
            {
                Console.Error.WriteLine($"A volume named '{volumeName}' already exists ({location.Name}).");
                return ExitCodes.Usage;
            }

            var caller = CliContext.Caller(r, store);
            Volume.Create(location, bytes, CliContext.VolumeKeys(store, r.GetValue(key)), caller.Principal, r.GetValue(sector));
            var path = location.Name;
            if (r.GetValue(preallocate))
            {
                var progress = new ProgressReporter($"preallocating {volumeName}", bytes);
                try
                {
                    Volume.Preallocate(path, new SynchronousProgress(progress.Report));
                }
                catch (IOException)
                {
                    File.Delete(path); // no half-reserved volume left behind; the key grant stays retirable
                    throw;
                }
            }

            CliContext.Print(r, Info(volumeName, location), CliJson.Output.VolumeInfo, Describe);
            return ExitCodes.Ok;
        }));

        var pool = new Argument<string?>("pool") { Arity = ArgumentArity.ZeroOrOne, Description = "rbd:POOL: list the volumes among that Ceph pool's images instead of the data directory's." };
        var list = new Command("list", "List volumes (of the data directory, or of an RBD pool); one that cannot be used is listed as damaged (or unreadable), with the reason, and the exit code is then 5.") { pool };
        list.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            if (r.GetValue(pool) is { } where && !IsRbdPool(where))
            {
                Console.Error.WriteLine($"'{where}': name an RBD pool as rbd:POOL (e.g. rbd:rbd), or nothing for the data directory's volumes.");
                return ExitCodes.Usage;
            }

            if (r.GetValue(pool) is null && !Directory.Exists(data.Root))
            {
                // As key list says for the same directory: an empty list would hide a mistyped --data-dir.
                throw new KeyStoreException(KeyStoreErrors.NotFound, $"No data directory {data.Root}, so no volumes. Create one with 'blocksim volume create NAME --size SIZE --data-dir {data.Root}', or pass the --data-dir that holds them.");
            }

            using var locator = CliContext.Volumes(r);
            var volumes = r.GetValue(pool) is { } rbd
                ? RbdEntries(locator, rbd)
                : Directory.Exists(data.VolumesPath)
                ? Directory.GetFiles(data.VolumesPath, "*.vol").Order(StringComparer.Ordinal).Select(p => ListEntry(Path.GetFileNameWithoutExtension(p), new FileVolumeLocation(p))).ToList()
                : [];
            if (data.SharedKeyStore is { } fleet)
            {
                var served = EtcdVolumeLeases.List(fleet, data.KeyStoreTls).ToLookup(l => l.VolumeId);
                volumes = [.. volumes.Select(v => v is VolumeInfo ok ? ok with { ServedBy = [.. served[ok.VolumeId].Select(Describe)] } : v)];
            }

            CliContext.Print(r, volumes, CliJson.Output.ListObject, ListTable);

            // Like ls: everything that could be read is listed, and the exit code says that not all could.
            var unusable = volumes.OfType<UnusableVolume>().ToList();
            if (unusable.Count == 0)
            {
                return ExitCodes.Ok;
            }

            if (!r.GetValue(CliContext.Json))
            {
                Console.Error.WriteLine($"{unusable.Count} of {volumes.Count} volumes cannot be used: {string.Join(", ", unusable.Select(v => v.Name))}. Restore each from a copy, or move it out of {data.VolumesPath}: serve with no configuration serves every volume there, and does not start while one is unusable.");
            }

            return ExitCodes.IOError;
        }));

        var served = new Command("served", "With the key store in etcd (--key-store etcd://...): every volume some daemon in the fleet has open for writing, with its host, daemon and listeners. Advisory: what the daemons say, renewed every few seconds.");
        served.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            if (data.SharedKeyStore is not { } fleet)
            {
                Console.Error.WriteLine("volume served lists what a fleet's daemons publish in the key store's etcd: give --key-store etcd://HOST:PORT[,...]/PREFIX (the one the daemons use).");
                return ExitCodes.Usage;
            }

            var leases = EtcdVolumeLeases.List(fleet, data.KeyStoreTls);
            CliContext.Print(r, leases, CliJson.Output.IReadOnlyListVolumeLease, all => all.Count == 0
                ? "No daemon says it serves a volume."
                : all.Aggregate(new TextTable("VOLUME", "EXPORT", "HOST", "DAEMON", "LISTENERS", "SINCE", "VOLUME ID"), (t, l) => t.Add(
                    l.Volume, l.Export, l.Host, l.Daemon, string.Join(",", l.Listeners), l.Since.UtcDateTime.ToString("u", CultureInfo.InvariantCulture), l.VolumeId.ToString())).ToString());
            return ExitCodes.Ok;
        }));

        var infoName = new Argument<string>("name");
        var info = new Command("info", "Show a volume's header (no key needed).") { infoName };
        info.SetAction(r => CliContext.Run(r, () =>
        {
            var volumeName = VolumeLocator.CheckName(r.GetValue(infoName)!);
            using var volumes = CliContext.Volumes(r);
            CliContext.Print(r, Info(volumeName, volumes.Existing(volumeName)), CliJson.Output.VolumeInfo, Describe);
            return ExitCodes.Ok;
        }));

        var rewrapName = new Argument<string?>("name") { Arity = ArgumentArity.ZeroOrOne };
        var rewrapKey = new Option<string?>("--key") { Description = "Move the volume to another master key (default: the newest version of its own)." };
        var rewrapAll = new Option<bool>("--all") { Description = "Re-wrap every volume in the data directory (with progress)." };
        var rewrap = new Command("rewrap", "Re-wrap a volume's key (or every volume's, --all) under the newest master-key version, or another key. No data is re-encrypted. Not while a daemon serves it.") { rewrapName, rewrapKey, rewrapAll };
        rewrap.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            var names = r.GetValue(rewrapAll)
                ? Directory.GetFiles(data.VolumesPath, "*.vol").Order().Select(p => Path.GetFileNameWithoutExtension(p)).ToList()
                : r.GetValue(rewrapName) is { } one ? [VolumeLocator.CheckName(one)] : [];
            if (names.Count == 0 || r.GetValue(rewrapAll) && r.GetValue(rewrapName) is not null)
            {
                Console.Error.WriteLine("Name one volume, or pass --all (not both), e.g. blocksim volume rewrap data");
                return ExitCodes.Usage;
            }

            using var volumes = CliContext.Volumes(r);
            using var store = CliContext.OpenStore(r);
            var keys = CliContext.VolumeKeys(store, null);
            var progress = names.Count > 1 ? new ProgressReporter("re-wrapping volumes", names.Count, bytes: false) : null;
            var results = new List<VolumeInfo>();
            foreach (var volumeName in names)
            {
                var location = volumes.Existing(volumeName);
                keys.Rewrap(location, CliContext.Caller(r, store), r.GetValue(rewrapKey));
                results.Add(Info(volumeName, location));
                progress?.Report(results.Count);
            }

            if (r.GetValue(rewrapAll))
            {
                CliContext.Print(r, results, CliJson.Output.ListVolumeInfo, all => string.Join(Environment.NewLine, all.Select(Describe)));
            }
            else
            {
                CliContext.Print(r, results[0], CliJson.Output.VolumeInfo, Describe);
            }

            return ExitCodes.Ok;
        }));

        var resizeName = new Argument<string>("name");
        var resizeSize = new Option<string>("--size") { Required = true, Description = "New capacity (bytes, or with K, M, G, T)." };
        var allowShrink = new Option<bool>("--allow-shrink") { Description = "Allow a smaller size: everything past the new end is lost." };
        var resize = new Command("resize", "Grow (or, with --allow-shrink, shrink) a volume that is not being served.") { resizeName, resizeSize, allowShrink };
        resize.SetAction(r => CliContext.Run(r, () =>
        {
            var volumeName = VolumeLocator.CheckName(r.GetValue(resizeName)!);
            using var volumes = CliContext.Volumes(r);
            var location = volumes.Existing(volumeName);
            var header = Volume.ReadHeader(location).Header;
            if (!ByteSize.TryParse(r.GetValue(resizeSize)!, out var bytes) || bytes <= 0 || bytes % header.SectorSize != 0)
            {
                Console.Error.WriteLine($"--size {r.GetValue(resizeSize)}: give a positive multiple of the volume's {header.SectorSize}-byte sectors, e.g. 20G.");
                return ExitCodes.Usage;
            }

            if (bytes < header.Capacity && !r.GetValue(allowShrink))
            {
                Console.Error.WriteLine($"{ByteSize.Format(bytes)} is smaller than the volume ({ByteSize.Format(header.Capacity)}): shrinking loses the data past the new end. Pass --allow-shrink if that is what you want (shrink the filesystem on it first).");
                return ExitCodes.Usage;
            }

            Volume.Resize(location, bytes);
            CliContext.Print(r, Info(volumeName, location), CliJson.Output.VolumeInfo, Describe);
            return ExitCodes.Ok;
        }));

        var deleteName = new Argument<string>("name");
        var yes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var delete = new Command("delete", "Delete a volume file and retire the daemon's grant for it. Not while a daemon serves it, nor while it has snapshots.") { deleteName, yes };
        delete.SetAction(r => CliContext.Run(r, () =>
        {
            var volumeName = VolumeLocator.CheckName(r.GetValue(deleteName)!);
            var data = CliContext.Data(r);
            using var volumes = CliContext.Volumes(r);
            var location = volumes.Existing(volumeName);

            // Its snapshots would outlive it with nothing to roll back onto, and the grant retired here is the
            // daemon's only way to their key: the person deletes them first, knowing what they are.
            if (!VolumeLocator.IsRbd(volumeName) && SnapshotCommands.Labels(data, volumeName) is { Count: > 0 } labels)
            {
                Console.Error.WriteLine($"Refused: volume '{volumeName}' has {labels.Count} snapshot{(labels.Count == 1 ? "" : "s")}: {string.Join(", ", labels.Select(l => $"{volumeName}@{l}"))}. Delete {(labels.Count == 1 ? "it" : "them")} first (blocksim volume snapshot delete {volumeName}@{labels[0]} --yes), then the volume.");
                return ExitCodes.Usage;
            }

            if (!CliContext.Confirm(r.GetValue(yes), $"WARNING: this deletes {location.Name} and everything on it.", volumeName))
            {
                return ExitCodes.Usage;
            }

            var (header, _) = Volume.ReadHeader(location);
            using var store = CliContext.OpenStore(r);
            var caller = CliContext.Caller(r, store);
            var grants = store.ListGrants(header.KeyId, caller).Where(g => g.EncryptionContextEquals.TryGetValue("volumeId", out var id) && id == header.VolumeId.ToString()).ToList();
            Volume.Delete(location); // refuses while a daemon serves it
            foreach (var grant in grants)
            {
                store.RetireGrant(grant.GrantId, caller);
            }

            CliContext.Print(r, new VolumeDeleted(volumeName, location.Name, [.. grants.Select(g => g.GrantId)]), CliJson.Output.VolumeDeleted, d => $"deleted volume '{d.Name}'");
            return ExitCodes.Ok;
        }));

        volume.Subcommands.Add(create);
        volume.Subcommands.Add(list);
        volume.Subcommands.Add(served);
        volume.Subcommands.Add(info);
        volume.Subcommands.Add(rewrap);
        volume.Subcommands.Add(resize);
        volume.Subcommands.Add(SnapshotCommands.Create());
        volume.Subcommands.Add(VolumeTransfer.Import());
        volume.Subcommands.Add(VolumeTransfer.Export());
        volume.Subcommands.Add(delete);
        volume.Subcommands.Add(Takeover());
        return volume;
    }

    /// <summary>
    /// <c>volume takeover rbd:POOL/IMAGE</c>: breaks the exclusive lock of a host that is gone, so a daemon
    /// here can serve the volume. Ceph blocklists the old holder as the lock breaks, so a host that was only
    /// paused or cut off cannot write after the volume moved (fencing): that is why it asks first.
    /// </summary>
    private static Command Takeover()
    {
        var name = new Argument<string>("name") { Description = "The RBD volume, rbd:POOL/IMAGE." };
        var yes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var command = new Command("takeover", "Break a dead host's lock on an RBD volume (Ceph fences that host), so it can be served here; a daemon here serving it as an export takes it at the next attach.") { name, yes };
        command.SetAction(r => CliContext.Run(r, () =>
        {
            var volumeName = r.GetValue(name)!;
            if (!VolumeLocator.IsRbd(volumeName))
            {
                Console.Error.WriteLine($"'{volumeName}' is a volume file: its lock goes with the process that holds it, and is never taken over. Name an RBD volume, rbd:POOL/IMAGE.");
                return ExitCodes.Usage;
            }

            VolumeLocator.CheckRbdName(volumeName);
            using var volumes = CliContext.Volumes(r);
            var location = (RbdVolumeLocation)volumes.Existing(volumeName);
            var holders = location.LockHolders();
            if (holders.Count == 0)
            {
                CliContext.Print(r, new VolumeTakenOver(volumeName, []), CliJson.Output.VolumeTakenOver, _ => $"{volumeName}: no one holds its lock; nothing to take over.");
                return ExitCodes.Ok;
            }

            if (!CliContext.Confirm(r.GetValue(yes),
                    $"WARNING: {string.Join(", ", holders)} holds {volumeName}. Taking it over fences that client: Ceph blocklists it, and whatever it has not flushed is lost. Do this only when that host is down or must stop writing.",
                    volumeName))
            {
                return ExitCodes.Usage;
            }

            var broken = location.TakeOver();
            CliContext.Print(r, new VolumeTakenOver(volumeName, [.. broken]), CliJson.Output.VolumeTakenOver, _ =>
                $"took over {volumeName}: broke the lock of {(broken.Count == 0 ? "no one (it was let go meanwhile)" : string.Join(", ", broken))}; serve it here now");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <param name="Store">Where it lives: "file" (Path is the file) or "rbd" (Path is rbd:POOL/IMAGE).</param>
    public sealed record VolumeInfo(string Name, string Store, string Path, Guid VolumeId, long Capacity, int SectorSize, string Cipher, string KeyId, int KeyVersion, string Owner, IReadOnlyList<string> Warnings)
    {
        /// <summary>With a fleet's key store (etcd): the daemons that say they serve it (HOST DAEMON at LISTENERS); null otherwise.</summary>
        public IReadOnlyList<string>? ServedBy { get; init; }

        public string State => "ok";
    }

    /// <summary>A volume file <c>list</c> could not use: State is "damaged: ..." or "unreadable: ...".</summary>
    public sealed record UnusableVolume(string Name, string Path, string State);

    private static string Describe(VolumeLease lease) => $"{lease.Host} {lease.Daemon} at {string.Join(", ", lease.Listeners)}";

    private static bool IsRbdPool(string name) => VolumeLocator.IsRbd(name) && name.Length > RbdVolumeName.Scheme.Length && !name.Contains('/', StringComparison.Ordinal);

    /// <summary>The BlockSim volumes among a pool's images, by name; images that are not volumes are left out.</summary>
    private static List<object> RbdEntries(VolumeLocator locator, string pool)
    {
        var images = locator.Images(pool[RbdVolumeName.Scheme.Length..]);
        return [.. images.Order(StringComparer.Ordinal)
            .Select(image => $"{pool}/{image}")
            .Select(name => ListEntry(name, locator.Resolve(name)))
            .Where(entry => entry is not UnusableVolume { State: var state } || !state.Contains(NotAVolume, StringComparison.Ordinal))];
    }

    private const string NotAVolume = "not a BlockSim volume";

    /// <summary>A volume's info, or what makes it unusable; never throws for one bad file.</summary>
    private static object ListEntry(string name, VolumeLocation location)
    {
        var path = location.Name;
        try
        {
            var info = Info(name, location);
            var expected = VolumeHeader.DataOffset + info.Capacity;
            var length = location is FileVolumeLocation ? new FileInfo(path).Length : expected; // an image's size is checked when it is opened
            return length < expected
                ? new UnusableVolume(name, path, $"damaged: the file is {length} bytes, shorter than the {expected} its header describes (truncated outside blocksim)")
                : info;
        }
        catch (VolumeDamagedException e)
        {
            return new UnusableVolume(name, path, $"damaged: {e.Problem}");
        }
        catch (KeyStoreException e)
        {
            return new UnusableVolume(name, path, $"damaged: its wrapped key cannot be read ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new UnusableVolume(name, path, $"unreadable: {e.Message}");
        }
    }

    internal static VolumeInfo Info(string name, string path) => Info(name, new FileVolumeLocation(path));

    internal static VolumeInfo Info(string name, VolumeLocation location)
    {
        var (header, warnings) = Volume.ReadHeader(location);
        var version = header.WrappedKey.Length > 0 ? SealedKeyStore.InspectWrappedKey(header.WrappedKey).KeyVersion : 0;
        return new VolumeInfo(name, location is FileVolumeLocation ? "file" : "rbd", location.Name, header.VolumeId, header.Capacity, header.SectorSize, VolumeHeader.Cipher, header.KeyId, version, header.Owner, warnings);
    }

    /// <summary>The list for people: one row a volume, sizes in binary units (the JSON has bytes), damaged ones with the reason.</summary>
    private static string ListTable(List<object> volumes)
    {
        if (volumes.Count == 0)
        {
            return "No volumes.";
        }

        var fleet = volumes.OfType<VolumeInfo>().Any(v => v.ServedBy is not null);
        var table = new TextTable(fleet ? ["NAME", "SIZE>", "SECTOR>", "KEY", "STATE", "SERVED BY"] : ["NAME", "SIZE>", "SECTOR>", "KEY", "STATE"]);
        foreach (var volume in volumes)
        {
            string[] row = volume switch
            {
                VolumeInfo ok => [ok.Name, ByteSize.Format(ok.Capacity), ok.SectorSize.ToString(CultureInfo.InvariantCulture), $"{ok.KeyId} v{ok.KeyVersion}", ok.Warnings.Count > 0 ? "ok (warnings: see volume info)" : ok.State, .. Served(ok.ServedBy)],
                UnusableVolume bad => [bad.Name, "-", "-", "-", bad.State, .. Served(null)],
                _ => throw new InvalidOperationException($"A volume list entry of type {volume.GetType().Name}."),
            };
            table.Add(row);
        }

        return table.ToString();

        string[] Served(IReadOnlyList<string>? by) => !fleet ? [] : by is { Count: > 0 } ? [string.Join("; ", by)] : ["-"];
    }

    internal static string Describe(VolumeInfo v) =>
        $"volume {v.Name} ({v.Path})\n  id: {v.VolumeId}\n  capacity: {ByteSize.Format(v.Capacity)} ({v.Capacity} bytes)\n  cipher: {v.Cipher}, {v.SectorSize}-byte sectors\n  key: {v.KeyId} version {v.KeyVersion}\n  owner: {v.Owner}"
        + string.Concat(v.Warnings.Select(w => $"\n  WARNING: {w}"));

    internal static string Existing(DataDirectory data, string name)
    {
        var path = data.VolumePath(name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"There is no volume named '{name}' in {data.VolumesPath}.");
    }
}
