using BlockSim.Storage.Durability;

namespace BlockSim.Storage.Tests;

/// <summary>The one copy of the crash-safe small-file writes and the directory fsync that volumes and the key store share.</summary>
public class DurableFileTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void Replace_leaves_the_new_contents_owner_only_and_no_temporary_file()
    {
        using var folder = new TempDirectory();
        var path = folder.File("store.json");
        DurableFile.Replace(path, "old"u8);
        DurableFile.Replace(path, "new"u8);
        Assert.Equal("new"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void CreateNew_is_owner_only_and_never_overwrites()
    {
        using var folder = new TempDirectory();
        var path = folder.File("key");
        DurableFile.CreateNew(path, "secret"u8);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Throws<IOException>(() => DurableFile.CreateNew(path, "other"u8));
        Assert.Equal("secret"u8.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Append_adds_to_the_end_and_Rename_refuses_to_overwrite_unless_told()
    {
        using var folder = new TempDirectory();
        var log = folder.File("audit.jsonl");
        DurableFile.Append(log, "a\n"u8);
        DurableFile.Append(log, "b\n"u8);
        Assert.Equal("a\nb\n"u8.ToArray(), File.ReadAllBytes(log));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(log));

        var taken = folder.File("audit.000001.jsonl");
        File.WriteAllText(taken, "x");
        Assert.Throws<IOException>(() => DurableFile.Rename(log, taken, overwrite: false));
        DurableFile.Rename(log, taken, overwrite: true);
        Assert.False(File.Exists(log));
        Assert.Equal("a\nb\n"u8.ToArray(), File.ReadAllBytes(taken));
    }

    [Fact]
    public void A_directory_that_cannot_be_synced_is_an_IOException_naming_it()
    {
        using var folder = new TempDirectory();
        DirectorySync.Flush(folder.Path);
        DirectorySync.FlushParentOf(folder.File("anything"));
        var missing = folder.File("missing");
        var e = Assert.Throws<IOException>(() => DirectorySync.Flush(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }
}
