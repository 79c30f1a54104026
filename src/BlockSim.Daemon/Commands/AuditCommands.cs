using System.CommandLine;
using System.Text.Json;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim audit show|verify|archive</c>: the key store's tamper-evident log.</summary>
internal static class AuditCommands
{
    public static Command Create()
    {
        var audit = new Command("audit", "Read and verify the key store's audit log.");
        var tail = new Option<int>("--tail") { Description = "Only the last N records.", DefaultValueFactory = _ => 50 }.InRange(1, int.MaxValue);
        var show = new Command("show", "Show audit records.") { tail };
        show.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            foreach (var line in admin.AuditTail(r.GetValue(tail)))
            {
                if (r.GetValue(CliContext.Json))
                {
                    Console.WriteLine(line);
                    continue;
                }

                var e = JsonDocument.Parse(line).RootElement;
                var error = e.TryGetProperty("errorCode", out var code) ? $"  DENIED {code.GetString()}" : "";
                var via = e.TryGetProperty("invokedBy", out var by) ? $" via {by.GetString()}" : "";
                var keyId = e.GetProperty("requestParameters").TryGetProperty("keyId", out var k) ? k.GetString() : "-";
                var repeats = e.TryGetProperty("additionalEventData", out var data) && data.TryGetProperty("repeatCount", out var count)
                    ? $"  x{count.GetString()} repeats since {data.GetProperty("firstRepeatTime").GetDateTimeOffset():u}"
                    : "";
                Console.WriteLine($"{e.GetProperty("sequence").GetInt64(),5} {e.GetProperty("eventTime").GetDateTimeOffset():u} {e.GetProperty("eventName").GetString(),-32} {e.GetProperty("userIdentity").GetProperty("principal").GetString()}{via}  key {keyId}{error}{repeats}");
            }

            return ExitCodes.Ok;
        }));

        var verify = new Command("verify", "Check the hash and HMAC chain and the store's anchor: detects edited, deleted, reordered, truncated or rolled-back records.");
        verify.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var (records, problems, notes) = admin.VerifyAudit();
            CliContext.Print(r, new AuditVerified(problems.Count == 0, records, problems, notes), CliJson.Output.AuditVerified, v => (v.Intact
                ? $"audit log intact: {v.Records} records"
                : $"audit log NOT intact ({v.Records} records):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", v.Problems))
                + string.Concat(v.Notes.Select(n => $"{Environment.NewLine}  note: {n}")));
            return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.IOError;
        }));

        var keep = new Option<int>("--keep") { Description = "Records to leave in the live log (about: a file segment is closed whole).", DefaultValueFactory = _ => 1000 }.InRange(0, int.MaxValue);
        var archive = new Command(
            "archive",
            "Move the oldest records into closed segments (files beside the log, or etcd keys of their own), unchanged, so the live log stays small; audit verify checks across segments. Refused, nothing moved, when the log does not verify. Opens the store here (its key file or passphrase).")
        {
            keep,
        };
        archive.SetAction(r => CliContext.Run(r, () =>
        {
            using var store = CliContext.OpenStore(r);
            var archived = store.ArchiveAuditLog(r.GetValue(keep), CliContext.Caller(r, store));
            CliContext.Print(r, new AuditArchived(archived.Records, archived.Segments), CliJson.Output.AuditArchived, a => a.Records == 0
                ? $"Nothing to archive: the live log holds {r.GetValue(keep)} records or fewer."
                : $"Archived {a.Records} records into {string.Join(", ", a.Segments)}.");
            return ExitCodes.Ok;
        }));

        audit.Subcommands.Add(show);
        audit.Subcommands.Add(verify);
        audit.Subcommands.Add(archive);
        return audit;
    }
}
