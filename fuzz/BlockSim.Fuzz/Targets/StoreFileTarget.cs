using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The sealed store file (keystore.json), opened as serve opens it, with a fixed test key file (32 bytes of
/// 0x42, not a secret: seeds made with it unlock, so mutations reach past the key slots). Checked: a store
/// file is either opened or refused with a <see cref="KeyStoreException"/>, and a refused one is left as it was.
/// </summary>
internal sealed class StoreFileTarget : IFuzzTarget
{
    private static readonly string s_directory = System.IO.Directory.CreateDirectory(Path.Combine(FuzzScratch.Directory, "store")).FullName;
    private static readonly string s_keyFile = CreateKeyFile();

    public string Name => "store-file";

    public string Description => "keystore.json with a fixed test key file; opened, or refused with a KeyStoreException and left unchanged";

    public void Run(ReadOnlySpan<byte> input)
    {
        var primary = Path.Combine(s_directory, "keystore.json");
        foreach (var file in System.IO.Directory.GetFiles(s_directory))
        {
            File.Delete(file);
        }

        File.WriteAllBytes(primary, input.ToArray());
        try
        {
            using var store = SealedKeyStore.Open(s_directory, new KeyFileUnlocker(s_keyFile));
        }
        catch (KeyStoreException e)
        {
            if (string.IsNullOrWhiteSpace(e.Message))
            {
                throw new FuzzFinding($"refused ({e.ErrorCode}) without a message");
            }

            if (!File.ReadAllBytes(primary).AsSpan().SequenceEqual(input))
            {
                throw new FuzzFinding("a refused store file was changed");
            }
        }
    }

    /// <summary>Writes the test key file (0600, as the daemon's own); also used to make seeds (see fuzz/README.md).</summary>
    internal static string CreateKeyFile()
    {
        var path = Path.Combine(FuzzScratch.Directory, "fuzz.key");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0x42, 32).ToArray());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var directory = System.IO.Directory.CreateDirectory(Path.Combine(FuzzScratch.Directory, "store-seed")).FullName;
        using (SealedKeyStore.Create(directory, new KeyFileUnlocker(s_keyFile), "user:fuzz"))
        {
        }

        yield return ("new-store", File.ReadAllBytes(Path.Combine(directory, "keystore.json")));
    }
}
