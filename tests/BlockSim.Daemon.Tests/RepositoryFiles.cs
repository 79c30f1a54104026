namespace BlockSim.Daemon.Tests;

/// <summary>Finds files of the repository the tests run from (README, deploy samples).</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "BlockSim.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No BlockSim.sln above {AppContext.BaseDirectory}.");
    }
}
