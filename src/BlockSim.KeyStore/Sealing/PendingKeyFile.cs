using BlockSim.Storage.Durability;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// How a re-key replaces a key file without a moment where no key file opens the current store: the new
/// key file is written beside the old one as <c>KEYFILE.next</c> (0600, flushed, directory synced) before
/// the store copies sealed for it are committed, and renamed over the old one only after. A crash before
/// the commit leaves a <c>.next</c> that opens nothing (discarded at the next open); a crash after it
/// leaves one that opens the store (the next open finishes the rename).
/// </summary>
internal static class PendingKeyFile
{
    public static string NextPath(string keyFile) => keyFile + ".next";

    /// <summary>Writes the new key file's secret as <c>.next</c>; a leftover <c>.next</c> (which the caller found stale) is replaced.</summary>
    public static void Write(string keyFile, ReadOnlySpan<byte> secret)
    {
        var next = NextPath(keyFile);
        File.Delete(next);
        DurableFile.CreateNew(next, secret);
        DirectorySync.FlushParentOf(keyFile);
    }

    /// <summary>The store is committed for the new key file: it takes the old one's place, durably.</summary>
    public static void Finish(string keyFile)
    {
        DurableFile.Rename(NextPath(keyFile), keyFile, overwrite: true);
    }

    /// <summary>Best effort, after a re-key that was not committed: the <c>.next</c> opens nothing and must not linger.</summary>
    public static void Discard(string keyFile)
    {
        try
        {
            File.Delete(NextPath(keyFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind, it opens nothing; the next open or re-key discards it.
        }
    }
}
