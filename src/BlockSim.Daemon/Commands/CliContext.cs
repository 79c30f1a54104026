using BlockSim.Daemon.Service;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using BlockSim.Daemon.Admin;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// What the management commands share: the data directory, how to unseal the store (its key file, or a
/// passphrase from --passphrase-file, BLOCKSIM_PASSPHRASE or a prompt without echo; never an argument), the
/// acting principal, output for people or --json, and exit codes that say what kind of failure it was.
/// </summary>
internal static class CliContext
{
    public const string PassphraseVariable = "BLOCKSIM_PASSPHRASE";

    public static readonly Option<string> DataDir = new("--data-dir")
    {
        Description = $"Where the key store and volumes live. Default: ./{DataDirectory.DefaultPath}.",
        DefaultValueFactory = _ => DataDirectory.DefaultPath,
        Recursive = true,
    };

    public static readonly Option<string?> KeyStore = new("--key-store")
    {
        Description = "Where the key store lives: a directory, or etcd://HOST:PORT[,HOST:PORT...]/PREFIX for one store shared by a fleet. Default: DATA-DIR/keystore.",
        Recursive = true,
    };

    public static readonly Option<string?> KeyFile = new("--key-file")
    {
        Description = "The key file that unseals the key store (0600). Default: DATA-DIR/keystore.key.",
        Recursive = true,
    };

    public static readonly Option<string?> KeyStoreCa = new("--key-store-ca")
    {
        Description = "TLS to the key store's etcd: the CA (PEM) its members' certificates must chain to.",
        Recursive = true,
    };

    public static readonly Option<string?> KeyStoreCert = new("--key-store-cert")
    {
        Description = "TLS to the key store's etcd: this client's certificate (PEM), for etcd's --client-cert-auth; with --key-store-key.",
        Recursive = true,
    };

    public static readonly Option<string?> KeyStoreKey = new("--key-store-key")
    {
        Description = "TLS to the key store's etcd: the private key (PEM) of --key-store-cert.",
        Recursive = true,
    };

    public static readonly Option<string?> Config = new("--config")
    {
        Description = "The daemon's JSON configuration file (see README). serve takes all of it; the other commands take from it where the data directory, key store, key file, admin socket and Ceph are (a flag given wins), so they act on what that daemon serves.",
        Recursive = true,
    };

    public static readonly Option<bool> NoProgress = new("--no-progress") { Description = "Draw no progress bar or progress lines (import, export, snapshots, preallocation, rewrap --all).", Recursive = true };

    public static readonly Option<bool> Json = new("--json") { Description = "Print JSON for scripts.", Recursive = true };

    public static readonly Option<string?> PassphraseFile = new("--passphrase-file")
    {
        Description = $"Unseal the store with the passphrase in this file (or set {PassphraseVariable}) instead of its key file.",
        Recursive = true,
    };

    public static readonly Option<string?> As = new("--as")
    {
        Description = "Offline only (no daemon serving the store): act as this principal, recorded as impersonation by you, the key file's holder. The daemon's own principals (blocksim-...) are never allowed.",
        Recursive = true,
    };

    public static readonly Option<string?> Control = new("--control")
    {
        Description = "The daemon's admin socket, or 'none'. Default: DATA-DIR/admin.sock. Key, policy, grant and audit commands go through it while a daemon serves the store.",
        Recursive = true,
    };

    public static readonly Option<string?> CephConf = new("--ceph-conf")
    {
        Description = "For volumes named rbd:POOL/IMAGE: the Ceph configuration file. Default: $CEPH_CONF, else /etc/ceph/ceph.conf.",
        Recursive = true,
    };

    public static readonly Option<string?> CephClient = new("--ceph-client")
    {
        Description = $"For volumes named rbd:POOL/IMAGE: the Ceph client to connect as. Default: {CephConnection.DefaultClient}.",
        Recursive = true,
    };

    /// <summary>How an offline caller is known: they could open the store, so they hold its key file or a passphrase.</summary>
    public const string OfflineEvidence = "offline: holds the store's key file or passphrase";

    public static void AddGlobalOptions(RootCommand root)
    {
        root.Options.Add(Config);
        root.Options.Add(DataDir);
        root.Options.Add(KeyStore);
        root.Options.Add(KeyFile);
        root.Options.Add(KeyStoreCa);
        root.Options.Add(KeyStoreCert);
        root.Options.Add(KeyStoreKey);
        root.Options.Add(Json);
        root.Options.Add(NoProgress);
        root.Options.Add(PassphraseFile);
        root.Options.Add(As);
        root.Options.Add(Control);
        root.Options.Add(CephConf);
        root.Options.Add(CephClient);
    }

    /// <summary>The data directory, key store and key file: each flag given, else the --config file's setting, else the default.</summary>
    public static DataDirectory Data(ParseResult result)
    {
        var configured = Configured(result);
        var root = result.GetResult(DataDir) is { Implicit: false } || configured?.DataDir is null ? result.GetValue(DataDir)! : configured.DataDir;
        return new(
            root,
            result.GetValue(KeyStore) ?? configured?.KeyStore,
            result.GetValue(KeyFile) ?? configured?.KeyFile,
            KeyStoreTls(result.GetValue(KeyStoreCa) ?? configured?.KeyStoreTls.Ca, result.GetValue(KeyStoreCert) ?? configured?.KeyStoreTls.Cert, result.GetValue(KeyStoreKey) ?? configured?.KeyStoreTls.Key));
    }

    /// <summary>The daemon's admin socket: --control, else the --config file's "control", else DATA-DIR/admin.sock.</summary>
    public static string ControlSocket(ParseResult result) => result.GetValue(Control) ?? Configured(result)?.Control ?? Data(result).DefaultControlSocket;

    /// <summary>
    /// The --config file, read as serve reads it (the environment's BLOCKSIM__ settings over it, relative paths
    /// from its folder, every value range-checked: a file serve would refuse is refused here too); null without
    /// --config. Read once per command line.
    /// </summary>
    public static DaemonOptions? Configured(ParseResult result)
    {
        if (result.GetValue(Config) is not { } path)
        {
            return null;
        }

        lock (s_configured)
        {
            if (!s_configured.TryGetValue(result, out var options))
            {
                options = DaemonOptions.Load(path);
                s_configured.Add(result, options);
            }

            return options;
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ParseResult, DaemonOptions> s_configured = [];

    /// <summary>TLS to the key store's etcd from its three settings; a certificate without a CA is refused (whose CA would vouch for etcd?).</summary>
    public static BlockSim.KeyStore.Etcd.EtcdTls? KeyStoreTls(string? ca, string? cert, string? key) =>
        ca is not null ? new(ca, cert, key)
        : cert is null && key is null ? null
        : throw new KeyStoreException(KeyStoreErrors.Validation, "A client certificate for the key store's etcd needs the CA its members' certificates chain to: give --key-store-ca (\"keyStoreTls\": {\"ca\": ...}) too.");

    /// <summary>Where volumes named on this command line live; connects to Ceph only when one is named rbd:POOL/IMAGE.</summary>
    public static VolumeLocator Volumes(ParseResult result) =>
        new(Data(result), new CephConnection(result.GetValue(CephConf) ?? Configured(result)?.Ceph.Conf, result.GetValue(CephClient) ?? Configured(result)?.Ceph.Client), ownsCeph: true);

    /// <summary>
    /// The caller of a request on a store opened here: the local user, who holds its key file (or a
    /// passphrase), or, with --as, the principal they impersonate, recorded as such. A claim to be one of the
    /// daemon's own principals is refused and recorded in <paramref name="store"/>.
    /// </summary>
    public static KeyRequestContext Caller(ParseResult result, SealedKeyStore store)
    {
        var holder = new KeyRequestContext(DataDirectory.LocalPrincipal) { AuthenticatedBy = OfflineEvidence };
        if (result.GetValue(As) is not { } claimed || claimed == holder.Principal)
        {
            return holder;
        }

        if (ServicePrincipals.IsReserved(claimed))
        {
            store.Refuse("Impersonate", holder, null, KeyStoreErrors.AccessDenied, $"{holder.Principal} asked to act as {claimed}: that principal is the daemon's own, and nobody may act as it.");
        }

        return new KeyRequestContext(claimed) { AuthenticatedBy = OfflineEvidence, ImpersonatedBy = holder.Principal };
    }

    /// <summary>
    /// The key store's management operations for this command: through the daemon's admin socket when a
    /// daemon serves the store (it names the caller), else on the store opened here with its key file.
    /// </summary>
    public static IKeyAdministration KeyAdministration(ParseResult result)
    {
        var socket = ControlSocket(result);
        if (socket != "none" && AdminSocketClient.TryConnect(socket, result.GetValue(As)) is { } daemon)
        {
            return daemon;
        }

        var store = OpenStore(result);
        try
        {
            return new LocalKeyAdministration(store, Caller(result, store), ownsStore: true);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Opens the existing store; a missing one is an error that says how to create it.</summary>
    public static SealedKeyStore OpenStore(ParseResult result)
    {
        var data = Data(result);
        if (data.SharedKeyStore is null && !Directory.Exists(data.KeyStorePath))
        {
            if (Directory.Exists(data.Root) && !CanEnter(data.Root))
            {
                throw new KeyStoreException(KeyStoreErrors.AccessDenied, $"You may not look into {data.Root} (permission denied): the key store there is for the daemon's user, and no daemon answered on its admin socket.");
            }

            throw new KeyStoreException(KeyStoreErrors.NotFound, $"No key store in {data.Root}. Run 'blocksim serve' once (it creates one), or pass --data-dir.");
        }

        return data.OpenKeyStore(slots => Unlocker(result, data, slots));
    }

    private static bool CanEnter(string directory)
    {
        try
        {
            _ = Directory.EnumerateFileSystemEntries(directory).Any();
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Runs a command body, printing errors plainly and mapping them to exit codes.</summary>
    public static int Run(ParseResult result, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (ExitCodeFor(e) is { } code)
        {
            return code;
        }
    }

    /// <inheritdoc cref="Run"/>
    public static async Task<int> RunAsync(ParseResult result, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (ExitCodeFor(e) is { } code)
        {
            return code;
        }
    }

    /// <summary>Prints what went wrong and picks the exit code; null for failures that are bugs.</summary>
    private static int? ExitCodeFor(Exception exception)
    {
        switch (exception)
        {
            case KeyStoreException e:
                Console.Error.WriteLine($"{e.ErrorCode}: {e.Message}");
                return e.ErrorCode switch
                {
                    KeyStoreErrors.NotFound or KeyStoreErrors.KeyFileMissing => ExitCodes.NotFound,
                    KeyStoreErrors.AccessDenied or KeyStoreErrors.Disabled or KeyStoreErrors.KmsInvalidState or KeyStoreErrors.UnlockFailed or KeyStoreErrors.InsecureKeyFile => ExitCodes.Denied,
                    KeyStoreErrors.Validation or KeyStoreErrors.MalformedPolicyDocument or KeyStoreErrors.AlreadyExists => ExitCodes.Usage,
                    _ => ExitCodes.IOError,
                };
            case ConfigurationProblem e:
                Console.Error.WriteLine(e.Message); // names the file, the key and what to give
                return ExitCodes.Usage;
            case InvalidVolumeNameException e:
                // Printed as every other usage error is ("ValidationException: ..."), which scripts may match.
                Console.Error.WriteLine($"{KeyStoreErrors.Validation}: {e.Message}");
                return ExitCodes.Usage;
            case VolumeKeyException e:
                Console.Error.WriteLine(e.Message);
                return ExitCodes.Denied;
            case VolumeInUseException e:
                // Resize, rewrap, delete, import, snapshot create and rollback: refused while a daemon serves the volume (it holds the lock).
                Console.Error.WriteLine($"Refused: volume '{(VolumeLocator.IsRbd(e.FilePath) ? e.FilePath : Path.GetFileNameWithoutExtension(e.FilePath))}': {e.Message}");
                return ExitCodes.IOError;
            case SnapshotExistsException e:
                var snapshot = Path.GetFileNameWithoutExtension(e.FilePath);
                Console.Error.WriteLine($"Refused: snapshot {snapshot} already exists ({e.FilePath}), and a snapshot is never overwritten. Choose another label, or delete that one first: blocksim volume snapshot delete {snapshot} --yes");
                return ExitCodes.Usage;
            case FileNotFoundException e:
                Console.Error.WriteLine(e.Message);
                return ExitCodes.NotFound;
            case IOException or UnauthorizedAccessException:
                Console.Error.WriteLine(exception.Message);
                return ExitCodes.IOError;
            default:
                return null;
        }
    }

    /// <summary>Prints a result: with --json as <paramref name="type"/> writes it (one of <see cref="CliJson.Output"/>'s), else the human text.</summary>
    public static void Print<T>(ParseResult result, T value, JsonTypeInfo<T> type, Func<T, string> human)
    {
        Console.WriteLine(result.GetValue(Json) ? JsonSerializer.Serialize(value, type) : human(value));
    }

    /// <summary>
    /// Destructive steps need --yes, or, on a terminal, typing the expected word back. Without a terminal and
    /// without --yes the answer is no.
    /// </summary>
    public static bool Confirm(bool yes, string warning, string expected)
    {
        Console.Error.WriteLine(warning);
        if (yes)
        {
            return true;
        }

        if (Console.IsInputRedirected)
        {
            Console.Error.WriteLine("Not confirmed: pass --yes to confirm without a terminal.");
            return false;
        }

        Console.Error.Write($"Type '{expected}' to confirm: ");
        return Console.ReadLine()?.Trim() == expected;
    }

    public static Dictionary<string, string> ParseContext(IEnumerable<string> pairs)
    {
        var context = new Dictionary<string, string>();
        foreach (var pair in pairs)
        {
            var at = pair.IndexOf('=');
            if (at <= 0)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"--context {pair}: give FIELD=VALUE, e.g. volumeId=1234.");
            }

            context[pair[..at]] = pair[(at + 1)..];
        }

        return context;
    }

    public static KeyStoreVolumeKeys VolumeKeys(SealedKeyStore store, string? key) => new(store, key ?? SealedKeyStore.DefaultAlias);

    private static Unlocker Unlocker(ParseResult result, DataDirectory data, IReadOnlyList<KeySlotInfo> slots)
    {
        var passphraseFile = result.GetValue(PassphraseFile);
        if (passphraseFile is not null)
        {
            return new PassphraseUnlocker(File.ReadAllText(passphraseFile).TrimEnd('\r', '\n'));
        }

        if (Environment.GetEnvironmentVariable(PassphraseVariable) is { Length: > 0 } fromEnvironment)
        {
            return new PassphraseUnlocker(fromEnvironment);
        }

        if (File.Exists(data.KeyFilePath) || slots.Any(s => s.Type == KeySlotTypes.Kmip))
        {
            return data.DefaultUnlocker(slots);
        }

        if (!Console.IsInputRedirected)
        {
            Console.Error.WriteLine($"The key file {data.KeyFilePath} is missing; the store opens only with it or with a passphrase slot, if it has one.");
            return new PassphraseUnlocker(ReadHidden("Key store passphrase: "));
        }

        throw data.MissingKeyFile($", or, if the store has a passphrase slot, give --passphrase-file or set {PassphraseVariable}");
    }

    public static string ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }

            if (key.Key == ConsoleKey.Backspace && text.Length > 0)
            {
                text.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
    }
}
