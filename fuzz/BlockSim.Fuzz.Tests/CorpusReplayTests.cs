using System.Buffers.Binary;
using BlockSim.Fuzz.Targets;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Fuzz.Tests;

/// <summary>
/// Every fuzz target replays its committed corpus (fuzz/corpus/TARGET: the seeds, what campaigns kept, and
/// every finding's input) and its seeds as the code makes them today: none may be a finding. A finding
/// fixed once stays fixed. The campaigns themselves run under AFL++ (fuzz/run.sh; CI runs each briefly).
/// </summary>
public class CorpusReplayTests
{
    public static TheoryData<string> Targets => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void The_committed_corpus_replays_without_a_finding(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var folder = Path.Combine(RepositoryRoot(), "fuzz", "corpus", name);
        var inputs = Directory.GetFiles(folder);
        Assert.NotEmpty(inputs);
        var findings = new List<string>();
        foreach (var input in inputs.Order(StringComparer.Ordinal))
        {
            try
            {
                target.Run(File.ReadAllBytes(input));
            }
            catch (Exception e)
            {
                findings.Add($"{Path.GetFileName(input)}: {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.Empty(findings);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void The_seeds_the_code_makes_are_valid_inputs(string name)
    {
        var target = FuzzTargets.Find(name)!;
        var seeds = target.Seeds().ToList();
        Assert.NotEmpty(seeds);
        foreach (var (_, input) in seeds)
        {
            target.Run(input);
        }
    }

    [Fact]
    public void The_reply_check_finds_a_missing_reply_and_a_reply_to_no_request()
    {
        List<NbdRequest> requests = [new(NbdCommandFlags.None, NbdCommand.Flush, 0, 0, 0)];
        var none = Assert.Throws<FuzzFinding>(() => NbdTransmissionTarget.CheckReplies([], 0, requests, structured: false));
        Assert.Contains("never answered", none.Message);

        var stray = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(stray, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt64BigEndian(stray.AsSpan(8), 5);
        var unknown = Assert.Throws<FuzzFinding>(() => NbdTransmissionTarget.CheckReplies(stray, 0, requests, structured: false));
        Assert.Contains("no request is waiting on", unknown.Message);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "BlockSim.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No BlockSim.sln above {AppContext.BaseDirectory}.");
    }
}
