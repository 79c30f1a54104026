namespace BlockSim.Fuzz.Targets;

/// <summary>A private scratch folder for targets that read files, removed when the process ends.</summary>
internal static class FuzzScratch
{
    public static string Directory { get; } = Create();

    private static string Create()
    {
        var path = System.IO.Directory.CreateTempSubdirectory("blocksim-fuzz-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
                // best effort: the folder is under the temp directory
            }
        };
        return path;
    }
}
