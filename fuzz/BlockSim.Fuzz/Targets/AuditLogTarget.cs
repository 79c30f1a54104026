using System.Security.Cryptography;
using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Media;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The audit log and its head file: the input is the log (audit.jsonl), and after a 0xFF 0xFE separator
/// the head (audit.head). Checked: verifying never throws, states why a damaged log fails, and changes
/// neither file.
/// </summary>
internal sealed class AuditLogTarget : IFuzzTarget
{
    private static readonly string s_directory = System.IO.Directory.CreateDirectory(Path.Combine(FuzzScratch.Directory, "audit")).FullName;
    private static readonly byte[] s_macKey = SHA256.HashData("blocksim fuzz audit key (not a secret)"u8);

    public string Name => "audit-log";

    public string Description => "audit.jsonl (+ audit.head after 0xFF 0xFE); verify reports, never throws, changes nothing";

    public void Run(ReadOnlySpan<byte> input)
    {
        var split = input.IndexOf([(byte)0xFF, (byte)0xFE]);
        var log = split < 0 ? input : input[..split];
        var head = split < 0 ? [] : input[(split + 2)..];
        var logPath = Path.Combine(s_directory, "audit.jsonl");
        var headPath = Path.Combine(s_directory, "audit.head");
        File.WriteAllBytes(logPath, log.ToArray());
        if (split < 0)
        {
            File.Delete(headPath);
        }
        else
        {
            File.WriteAllBytes(headPath, head.ToArray());
        }

        var verification = new AuditLog(new FileAuditStorage(s_directory), s_macKey).Verify(anchor: null);
        if (verification.Problems.Any(string.IsNullOrWhiteSpace))
        {
            throw new FuzzFinding("a problem without a description");
        }

        if (!File.ReadAllBytes(logPath).AsSpan().SequenceEqual(log) || (split >= 0 && !File.ReadAllBytes(headPath).AsSpan().SequenceEqual(head)))
        {
            throw new FuzzFinding("verifying changed the log or its head");
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var directory = System.IO.Directory.CreateDirectory(Path.Combine(FuzzScratch.Directory, "audit-seed")).FullName;
        var files = new FileAuditStorage(directory);
        var log = new AuditLog(files, s_macKey);
        foreach (var (name, error) in new[] { ("CreateKey", (string?)null), ("Decrypt", null), ("Decrypt", "AccessDeniedException") })
        {
            log.Append(new AuditRecord
            {
                EventTime = new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero),
                EventName = name,
                UserIdentity = new AuditIdentity { Principal = "user:fuzz" },
                SourceAddress = "127.0.0.1",
                RequestId = "r1",
                EventId = "e1",
                ErrorCode = error,
            });
        }

        byte[] bytes = [.. File.ReadAllBytes(files.FilePath), 0xFF, 0xFE, .. File.ReadAllBytes(files.HeadPath)];
        yield return ("three-records", bytes);
    }
}
