using BlockSim.KeyStore.Sealing;
using BlockSim.Daemon.Service;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.Storage;
using BlockSim.Storage.Volumes;
using System.CommandLine;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>serve --check</c>, as <c>nginx -t</c> or <c>sshd -t</c>: everything serve would check before it serves,
/// and nothing it would do. The configuration and the flags are read and range-checked, the listeners parsed,
/// the TLS files loaded, each export's volume found and its header read (an RBD one through Ceph), and the key
/// store looked at with its keyslots (public), but it is not unsealed, no port or socket is bound and nothing
/// is created: a data directory that holds nothing yet is reported as what the first serve would make.
/// </summary>
internal static class ServeCheck
{
    public static int Run(ParseResult result, DaemonOptions options, IReadOnlyList<string> listeners, string? configPath)
    {
        var problems = new List<(int Exit, string Message)>();
        var data = new DataDirectory(options.DataDir!, options.KeyStore, options.KeyFile, CliContext.KeyStoreTls(options.KeyStoreTls.Ca, options.KeyStoreTls.Cert, options.KeyStoreTls.Key));
        Attempt(problems, () => options.Limits.ToServerOptions());
        string? tls = null;
        Attempt(problems, () =>
        {
            var credentials = options.Tls.Load();
            tls = credentials is null ? null : $"{credentials.ServerSubject}, client certificates {(credentials.VerifiesClients ? (credentials.RequireClientCertificate ? "required" : "verified when offered") : "not asked for")}";
        });

        var keyStore = KeyStoreState(data, problems);
        var exports = new List<CheckedExport>();
        using (var volumes = new VolumeLocator(data, new CephConnection(options.Ceph.Conf, options.Ceph.Client), ownsCeph: true))
        {
            var configured = options.Exports.Count > 0
                ? options.Exports.OrderBy(e => e.Key, StringComparer.Ordinal).ToList()
                : [.. DataVolumes(data).Select(name => KeyValuePair.Create(name, new ExportSettings()))];
            foreach (var (name, settings) in configured)
            {
                exports.Add(Export(name, settings, options, volumes, problems));
            }
        }

        var socket = options.Socket ?? data.DefaultSocket;
        var report = new ServeChecked(
            problems.Count == 0,
            configPath is null ? null : Path.GetFullPath(configPath),
            data.Root,
            keyStore,
            listeners.Count == 0 ? [$"127.0.0.1:{ServeCommand.DefaultPort}"] : [.. listeners],
            socket,
            tls,
            exports,
            [.. problems.Select(p => p.Message)]);
        CliContext.Print(result, report, CliJson.Output.ServeChecked, Describe);
        return problems.Count == 0 ? ExitCodes.Ok : problems.Min(p => p.Exit);
    }

    private static void Attempt(List<(int, string)> problems, Action check)
    {
        try
        {
            check();
        }
        catch (Exception e) when (e is ConfigurationProblem or ArgumentException or InvalidOperationException)
        {
            problems.Add((ExitCodes.Usage, e.Message));
        }
    }

    /// <summary>Whether serve could open the store as it stands, without unsealing it.</summary>
    private static string KeyStoreState(DataDirectory data, List<(int, string)> problems)
    {
        try
        {
            using var medium = data.KeyStoreMedium();
            if (!medium.Exists())
            {
                if (data.SharedKeyStore is null && Directory.Exists(data.VolumesPath) && Directory.EnumerateFiles(data.VolumesPath, "*.vol").Any())
                {
                    problems.Add((ExitCodes.NotFound, $"{data.KeyStorePath}: no key store, but {data.VolumesPath} holds volumes: their keys are in the store that was there. Put it back (serve never makes a new one beside volumes)."));
                    return "missing";
                }

                return $"none yet at {data.KeyStorePath}: serve creates one, sealed by a new key file {data.KeyFilePath}";
            }

            var slots = SealedKeyStore.PeekSlots(medium);
            var opener = File.Exists(data.KeyFilePath) && slots.Any(s => s.Type == KeySlotTypes.KeyFile) ? $"its key file {data.KeyFilePath}"
                : slots.FirstOrDefault(s => s.Type == KeySlotTypes.Kmip) is { } kmip ? $"slot {kmip.Index}: {kmip.Description}"
                : null;
            if (opener is null)
            {
                problems.Add((ExitCodes.NotFound, $"{data.KeyStorePath}: serve opens the store with its key file ({data.KeyFilePath}: {(File.Exists(data.KeyFilePath) ? "it has no key-file slot" : "missing")}) or a kmip slot, and it has neither{(slots.Any(s => s.Type == KeySlotTypes.Passphrase) ? "; a passphrase slot opens it only with BLOCKSIM_PASSPHRASE set" : "")}."));
                return "cannot be opened";
            }

            return $"{data.KeyStorePath}, {slots.Count} slot{(slots.Count == 1 ? "" : "s")}, opens with {opener}";
        }
        catch (Exception e) when (e is KeyStoreException or IOException or UnauthorizedAccessException)
        {
            problems.Add((e is KeyStoreException { ErrorCode: KeyStoreErrors.AccessDenied } or UnauthorizedAccessException ? ExitCodes.Denied : ExitCodes.IOError, $"{data.KeyStorePath}: {e.Message}"));
            return "unreadable";
        }
    }

    private static CheckedExport Export(string name, ExportSettings settings, DaemonOptions options, VolumeLocator volumes, List<(int, string)> problems)
    {
        if (settings.Memory)
        {
            var size = settings.Size ?? options.DefaultSize;
            return new CheckedExport(name, "memory", null, ByteSize.TryParse(size, out var bytes) ? bytes : null, settings.ReadOnly, settings.Encrypted is true ? "encrypted under a key of this process only" : "not encrypted");
        }

        var volumeName = settings.Volume ?? name;
        try
        {
            var location = volumes.Resolve(volumeName);
            if (!location.Exists())
            {
                if (options.Exports.Count == 0 && volumeName == "default")
                {
                    return new CheckedExport(name, "volume", volumeName, null, settings.ReadOnly, $"created at the first serve, {options.DefaultSize}");
                }

                problems.Add((ExitCodes.NotFound, $"Export '{name}': there is no volume {volumeName} ({location.Name}). Create it first: blocksim volume create {volumeName} --size 10G {options.ManagementFlags}".TrimEnd()));
                return new CheckedExport(name, "volume", volumeName, null, settings.ReadOnly, "missing");
            }

            var (header, warnings) = Volume.ReadHeader(location);
            var state = warnings.Count == 0 ? $"key {header.KeyId}" : $"key {header.KeyId}; warnings: {string.Join("; ", warnings)}";
            return new CheckedExport(name, "volume", volumeName, header.Capacity, settings.ReadOnly, state);
        }
        catch (Exception e) when (e is VolumeException or IOException or UnauthorizedAccessException or InvalidVolumeNameException or KeyStoreException)
        {
            problems.Add((e is InvalidVolumeNameException ? ExitCodes.Usage : ExitCodes.IOError, $"Export '{name}' (volume {volumeName}): {e.Message}"));
            return new CheckedExport(name, "volume", volumeName, null, settings.ReadOnly, "unusable");
        }
    }

    /// <summary>What serve with no exports configured serves: every volume file there is, and 'default' on a first run.</summary>
    private static List<string> DataVolumes(DataDirectory data)
    {
        var names = Directory.Exists(data.VolumesPath)
            ? Directory.GetFiles(data.VolumesPath, "*.vol").Select(p => Path.GetFileNameWithoutExtension(p)!).Order(StringComparer.Ordinal).ToList()
            : [];
        return names.Count == 0 ? ["default"] : names;
    }

    private static string Describe(ServeChecked c) => string.Join(
        Environment.NewLine,
        [
            c.Ok ? $"configuration OK{(c.Config is null ? " (no file: the defaults and flags)" : $": {c.Config}")}" : $"configuration NOT OK{(c.Config is null ? "" : $": {c.Config}")}",
            $"  data directory: {c.DataDir}",
            $"  key store: {c.KeyStore}",
            $"  listen: {string.Join(", ", c.Listen)}; socket: {c.Socket}",
            $"  tls: {c.Tls ?? "off"}",
            .. c.Exports.Select(e => $"  export {e.Name}: {(e.Kind == "memory" ? "memory" : $"volume {e.Volume}")}{(e.Capacity is { } bytes ? $", {ByteSize.Format(bytes)}" : "")}{(e.ReadOnly ? ", read-only" : "")} ({e.State})"),
            .. c.Problems.Select(p => $"PROBLEM: {p}"),
        ]);
}
