using System.Globalization;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>serve --pid-file FILE</c>: the daemon's process id, written once it listens (so a script that waits for
/// the file can connect at once), whole or not at all (written beside it and renamed), and removed at a
/// graceful stop if it still names this process.
/// </summary>
internal sealed class PidFile(string path)
{
    private readonly string _content = Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n";

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public void Write()
    {
        var temporary = $"{Path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, _content);
        File.Move(temporary, Path, overwrite: true);
    }

    public void Remove()
    {
        try
        {
            if (File.Exists(Path) && File.ReadAllText(Path) == _content)
            {
                File.Delete(Path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind, as after a crash: the next start replaces it.
        }
    }
}
