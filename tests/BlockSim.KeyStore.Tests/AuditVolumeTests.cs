using System.Text.Json;
using BlockSim.KeyStore.Audit;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// The audit log under a client that attaches in a loop: identical Decrypts become one record and one
/// summary per window, still decided one by one; and the log moves on into segments that verify as one chain.
/// </summary>
public class AuditVolumeTests
{
    private static readonly Dictionary<string, string> s_context = StoreFixture.Context("v");

    [Fact]
    public void Identical_decrypts_in_a_window_are_one_record_and_one_summary_and_the_log_verifies()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        var before = Decrypts(f).Count;
        var start = f.Clock.Now;
        for (var i = 0; i < 300; i++)
        {
            f.Clock.Now = start.AddMilliseconds(100 * i);
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        }

        Assert.Equal(before + 1, Decrypts(f).Count); // the first, written before its key was released
        f.Clock.Now = start.AddMinutes(1);
        f.Store.FlushAuditAggregates();

        var decrypts = Decrypts(f);
        Assert.Equal(before + 2, decrypts.Count);
        var summary = decrypts[^1];
        var data = summary.GetProperty("additionalEventData");
        Assert.Equal("299", data.GetProperty("repeatCount").GetString());
        Assert.Equal(start.AddMilliseconds(100), DateTimeOffset.Parse(data.GetProperty("firstRepeatTime").GetString()!));
        Assert.Equal(start.AddMilliseconds(29_900), DateTimeOffset.Parse(data.GetProperty("lastRepeatTime").GetString()!));
        Assert.Equal(decrypts[^2].GetProperty("requestId").GetString(), data.GetProperty("firstRequestId").GetString());
        Assert.Equal("1", data.GetProperty("keyMaterialVersion").GetString());
        Assert.Equal("198.51.100.7", summary.GetProperty("sourceAddress").GetString());
        Assert.Equal("anonymous", summary.GetProperty("userIdentity").GetProperty("clientIdentity").GetString());
        var verification = f.Store.VerifyAuditLog();
        Assert.Empty(verification.Problems);
        Assert.Empty(verification.Notes); // the summary's write moved the store's anchor onto it

        // After the window, the next one is recorded on its own again.
        f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        Assert.Equal(before + 3, Decrypts(f).Count);
    }

    [Fact]
    public void Another_client_address_or_outcome_is_not_a_repeat()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        f.Store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[{"Effect":"Allow","Principal":"user:admin","Action":"*"},
                          {"Effect":"Deny","Principal":"*","Action":"Decrypt","Condition":{"StringEquals":{"ClientIdentity":"CN=mallory"}}}]}
            """, StoreFixture.Admin);
        for (var i = 0; i < 3; i++)
        {
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("CN=alice"));
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("CN=alice", "203.0.113.9"));
            Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("CN=mallory")));
        }

        Assert.Equal(
            [("CN=alice", "198.51.100.7", null), ("CN=alice", "203.0.113.9", null), ("CN=mallory", "198.51.100.7", "AccessDeniedException")],
            Decrypts(f).Select(Describe).ToArray());
        f.Store.FlushAuditAggregates(all: true);
        Assert.All(Decrypts(f).Skip(3), d => Assert.Equal("2", d.GetProperty("additionalEventData").GetProperty("repeatCount").GetString()));
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void A_change_ends_every_window_so_its_summary_comes_before_it()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        for (var i = 0; i < 5; i++)
        {
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        }

        f.Store.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        Assert.Equal("DisabledException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"))).ErrorCode);
        var events = f.AuditEvents().SkipWhile(e => e.Name != "Decrypt").ToArray();
        Assert.Equal([("Decrypt", null), ("Decrypt", null), ("DisableKey", null), ("Decrypt", "DisabledException")], events);
        Assert.Equal("4", Decrypts(f)[1].GetProperty("additionalEventData").GetProperty("repeatCount").GetString());
    }

    [Fact]
    public void A_repeat_is_still_decided_so_a_key_disabled_by_another_process_refuses_it_at_once()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        using (var cli = SealedKeyStore.Open(f.StorePath, f.KeyFile, f.Clock))
        {
            cli.DisableKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin); // does not end this process's windows
        }

        var key = new byte[64];
        Assert.Equal("DisabledException", Assert.Throws<KeyStoreException>(() => f.Store.Decrypt(wrapped, s_context, key, Attacher("anonymous"))).ErrorCode);
        Assert.All(key, b => Assert.Equal(0, b));
        Assert.Equal("DisabledException", Decrypts(f)[^1].GetProperty("errorCode").GetString()); // recorded: not a repeat of an allowed one
    }

    [Fact]
    public void Closing_the_store_writes_the_summary_of_the_window_under_way()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        for (var i = 0; i < 4; i++)
        {
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        }

        f.Reopen(); // the daemon stopping
        Assert.Equal("3", Decrypts(f)[^1].GetProperty("additionalEventData").GetProperty("repeatCount").GetString());
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void A_summary_that_cannot_be_written_is_kept_and_written_later_once()
    {
        using var f = Aggregating();
        var wrapped = NewWrappedKey(f);
        for (var i = 0; i < 3; i++)
        {
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        }

        var log = f.Store.AuditLogPath;
        File.Move(log, log + ".moved");
        Directory.CreateDirectory(log); // the disk is full, say
        f.Clock.Now = f.Clock.Now.AddMinutes(2);
        Assert.Equal("AuditWriteFailed", Assert.Throws<KeyStoreException>(() => f.Store.FlushAuditAggregates()).ErrorCode);
        Assert.Equal("AuditWriteFailed", Assert.Throws<KeyStoreException>(() => f.Store.ListKeys(StoreFixture.Admin)).ErrorCode);
        Directory.Delete(log);
        File.Move(log + ".moved", log);

        f.Store.ListKeys(StoreFixture.Admin);
        var summaries = Decrypts(f).Where(d => d.TryGetProperty("additionalEventData", out var a) && a.TryGetProperty("repeatCount", out _)).ToArray();
        Assert.Equal("2", Assert.Single(summaries).GetProperty("additionalEventData").GetProperty("repeatCount").GetString());
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    [Fact]
    public void Without_a_window_every_request_has_its_record()
    {
        using var f = new StoreFixture();
        var wrapped = NewWrappedKey(f);
        for (var i = 0; i < 5; i++)
        {
            f.Store.Decrypt(wrapped, s_context, new byte[64], Attacher("anonymous"));
        }

        Assert.Equal(5, Decrypts(f).Count);
    }

    [Fact]
    public void The_log_rotates_into_segments_that_verify_as_one_chain()
    {
        using var f = new StoreFixture();
        f.Store.ConfigureAudit(new AuditOptions { SegmentBytes = 4096 });
        for (var i = 0; i < 60; i++)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        var files = f.Store.AuditLogFiles;
        Assert.True(files.Count >= 5, $"{files.Count} segments");
        Assert.Equal(f.Store.AuditLogPath, files[^1]);
        Assert.Equal("audit.000001.jsonl", Path.GetFileName(files[0]));
        Assert.All(files.SkipLast(1), file => Assert.InRange(new FileInfo(file).Length, 4096, 4096 + 2048));
        var (problems, records) = f.Reopen().VerifyAuditLog();
        Assert.Empty(problems);
        Assert.Equal(61, records);
        Assert.Equal(61, files.Sum(file => File.ReadAllLines(file).Length));
    }

    [Fact]
    public void Archiving_closes_the_segment_being_written_and_the_log_verifies_across_it()
    {
        using var f = new StoreFixture();
        for (var i = 0; i < 10; i++)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        Assert.Equal(0, f.Store.ArchiveAuditLog(100, StoreFixture.Admin).Records); // fewer than kept: nothing moved
        var archived = f.Store.ArchiveAuditLog(0, StoreFixture.Admin);
        Assert.Equal(12, archived.Records); // the store's creation, ten describes, and the first archive's own record (it moved nothing)
        Assert.Equal("audit.000001.jsonl", Path.GetFileName(Assert.Single(archived.Segments)));
        var live = File.ReadAllLines(f.Store.AuditLogPath);
        Assert.Contains("ArchiveAuditLog", Assert.Single(live));
        var (problems, records) = f.Reopen().VerifyAuditLog();
        Assert.Empty(problems);
        Assert.Equal(13, records);
    }

    [Theory]
    [InlineData("delete a middle segment", "was expected (a record was deleted, inserted or moved)")]
    [InlineData("delete the first segment", "where 1 was expected")]
    [InlineData("edit a record in a closed segment", "its HMAC does not match its fields")]
    [InlineData("swap two segments", "was expected (a record was deleted, inserted or moved)")]
    [InlineData("drop the newest segment and its head", "anchor")]
    public void A_segment_removed_edited_or_moved_is_detected(string how, string expected)
    {
        using var f = new StoreFixture();
        f.Store.ConfigureAudit(new AuditOptions { SegmentBytes = 4096 });
        var head = Path.Combine(f.StorePath, "audit.head");
        var oldHead = "";
        for (var i = 0; i < 60; i++)
        {
            if (i == 45)
            {
                oldHead = File.ReadAllText(head);
            }

            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        var files = f.Store.AuditLogFiles;
        switch (how)
        {
            case "delete a middle segment":
                File.Delete(files[2]);
                break;
            case "delete the first segment":
                File.Delete(files[0]);
                break;
            case "edit a record in a closed segment":
                File.WriteAllText(files[1], File.ReadAllText(files[1]).Replace("DescribeKey", "DescribeKez", StringComparison.Ordinal));
                break;
            case "swap two segments":
                File.Move(files[1], files[1] + ".x");
                File.Move(files[2], files[1]);
                File.Move(files[1] + ".x", files[2]);
                break;
            default:
                File.Delete(files[^1]);
                File.WriteAllText(head, oldHead); // a head that matches what is left is not enough: the store's anchor knows more
                break;
        }

        var found = f.Store.VerifyAuditLog().Problems;
        Assert.Contains(found, p => p.Contains(expected, StringComparison.Ordinal));
        if (how.StartsWith("edit", StringComparison.Ordinal))
        {
            Assert.Contains(found, p => p.Contains(Path.GetFileName(files[1]), StringComparison.Ordinal)); // which segment
        }
    }

    [Fact]
    public void A_crash_right_after_a_rotation_leaves_a_log_that_verifies_and_goes_on()
    {
        using var f = new StoreFixture();
        f.Store.ConfigureAudit(new AuditOptions { SegmentBytes = 4096 });
        for (var i = 0; i < 10; i++)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        // As if killed after the rename and before the next record: no audit.jsonl.
        var next = f.Store.AuditLogFiles.Count;
        File.Move(f.Store.AuditLogPath, Path.Combine(f.StorePath, $"audit.{next:D6}.jsonl"));
        Assert.Empty(f.Reopen().VerifyAuditLog().Problems);
        f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
        Assert.Single(File.ReadAllLines(f.Store.AuditLogPath));
    }

    private static StoreFixture Aggregating()
    {
        var f = new StoreFixture();
        f.Store.ConfigureAudit(new AuditOptions { AggregationWindow = TimeSpan.FromMinutes(1) });
        return f;
    }

    /// <summary>A volume key the daemon may unwrap for any client (as the grant a volume gets).</summary>
    private static byte[] NewWrappedKey(StoreFixture f)
    {
        var wrapped = f.Store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, s_context, 64, StoreFixture.Admin);
        f.Store.CreateGrant(SealedKeyStore.DefaultAlias, "blocksim-daemon", ["Decrypt"], s_context, StoreFixture.Admin);
        return wrapped;
    }

    private static KeyRequestContext Attacher(string client, string address = "198.51.100.7") => new("user:owner", "blocksim-daemon", address, client);

    private static List<JsonElement> Decrypts(StoreFixture f) =>
        f.Store.AuditLogFiles.SelectMany(File.ReadAllLines)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("eventName").GetString() == "Decrypt")
            .ToList();

    private static (string?, string?, string?) Describe(JsonElement e) => (
        e.GetProperty("userIdentity").GetProperty("clientIdentity").GetString(),
        e.GetProperty("sourceAddress").GetString(),
        e.TryGetProperty("errorCode", out var code) ? code.GetString() : null);
}
