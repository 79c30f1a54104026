using BlockSim.Fuzz;
using BlockSim.Fuzz.Targets;

// blocksim-fuzz: coverage-guided fuzz targets for every parser that reads untrusted bytes.
//   blocksim-fuzz list                      the targets
//   blocksim-fuzz afl TARGET                under afl-fuzz, on instrumented assemblies (fuzz/run.sh does this)
//   blocksim-fuzz replay TARGET PATH...     each file (or every file in each folder) once, in process;
//                                           exit 1 if any is a finding, naming the file
//   blocksim-fuzz seed FOLDER               writes each target's seeds to FOLDER/TARGET/
return args switch
{
    ["list"] => List(),
    ["seed", var folder] => Seed(folder),
    ["afl", var name] => Afl(name),
    ["replay", var name, .. var paths] when paths.Length > 0 => Replay(name, paths),
    _ => Usage(),
};

static int List()
{
    foreach (var target in FuzzTargets.All)
    {
        Console.WriteLine($"{target.Name,-18} {target.Description}");
    }

    return 0;
}

static int Seed(string folder)
{
    foreach (var target in FuzzTargets.All)
    {
        var directory = Directory.CreateDirectory(Path.Combine(folder, target.Name)).FullName;
        foreach (var (name, input) in target.Seeds())
        {
            File.WriteAllBytes(Path.Combine(directory, $"seed-{name}"), input);
        }
    }

    return 0;
}

static int Afl(string name)
{
    if (FuzzTargets.Find(name) is not { } target)
    {
        return Unknown(name);
    }

    SharpFuzz.Fuzzer.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        target.Run(copy.GetBuffer().AsSpan(0, (int)copy.Length));
    });
    return 0;
}

static int Replay(string name, string[] paths)
{
    if (FuzzTargets.Find(name) is not { } target)
    {
        return Unknown(name);
    }

    var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal).ToList();
    var findings = 0;
    foreach (var file in files)
    {
        try
        {
            target.Run(File.ReadAllBytes(file));
        }
        catch (Exception e)
        {
            findings++;
            Console.WriteLine($"FINDING {target.Name} {file}: {e.GetType().Name}: {e.Message}");
            if (target is ShapedJsonTarget shaped)
            {
                Console.WriteLine($"  the input shaped as JSON: {shaped.Shape(File.ReadAllBytes(file))}");
            }

            Console.WriteLine(e.StackTrace);
        }
    }

    Console.WriteLine($"{target.Name}: {files.Count} inputs replayed, {findings} findings");
    return findings == 0 ? 0 : 1;
}

static int Unknown(string name)
{
    Console.Error.WriteLine($"blocksim-fuzz: no target '{name}'; 'blocksim-fuzz list' names them.");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("usage: blocksim-fuzz list | afl TARGET | replay TARGET PATH... | seed FOLDER");
    return 2;
}
