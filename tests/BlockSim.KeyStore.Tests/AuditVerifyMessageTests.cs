namespace BlockSim.KeyStore.Tests;

/// <summary>
/// What <c>audit verify</c> says about a damaged log: the record and line that failed, and what did not
/// match (its MAC, its text, its link to the record before, its sequence number, the head). A reviewer
/// edited the last of 10 records and was told only "holds 10 records but its head says 10".
/// </summary>
public class AuditVerifyMessageTests
{
    [Theory]
    [InlineData("whitespace", "is not the text the store wrote")]
    [InlineData("unknown field", "is not the text the store wrote")]
    [InlineData("principal", "HMAC does not match")]
    public void An_edited_last_record_is_named_with_what_did_not_match(string how, string why)
    {
        using var f = WithRecords(10);
        var lines = File.ReadAllLines(f.Store.AuditLogPath);
        lines[9] = Edit(lines[9], how);
        File.WriteAllLines(f.Store.AuditLogPath, lines);

        var problems = f.Store.VerifyAuditLog().Problems;
        Assert.Contains(problems, p => p.StartsWith("record 10 (line 10): ", StringComparison.Ordinal) && p.Contains(why, StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("record 10", StringComparison.Ordinal) && p.Contains("audit.head", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.Contains("holds 10 records but its head says 10", StringComparison.Ordinal));
    }

    [Fact]
    public void An_edited_record_in_the_middle_is_named_and_so_is_the_broken_link_after_it()
    {
        using var f = WithRecords(10);
        var lines = File.ReadAllLines(f.Store.AuditLogPath);
        lines[2] = Edit(lines[2], "whitespace");
        File.WriteAllLines(f.Store.AuditLogPath, lines);

        var problems = f.Store.VerifyAuditLog().Problems;
        Assert.Contains(problems, p => p.StartsWith("record 3 (line 3): ", StringComparison.Ordinal) && p.Contains("is not the text the store wrote", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("record 4 (line 4): ", StringComparison.Ordinal) && p.Contains("line 3", StringComparison.Ordinal) && p.Contains("previousHash", StringComparison.Ordinal));
    }

    [Fact]
    public void A_deleted_record_names_the_line_and_the_sequence_found_there()
    {
        using var f = WithRecords(10);
        var lines = File.ReadAllLines(f.Store.AuditLogPath).ToList();
        lines.RemoveAt(4);
        File.WriteAllLines(f.Store.AuditLogPath, lines);

        var problems = f.Store.VerifyAuditLog().Problems;
        Assert.Contains(problems, p => p.StartsWith("record 6 (line 5): ", StringComparison.Ordinal) && p.Contains("sequence 6 where 5 was expected", StringComparison.Ordinal));
    }

    [Fact]
    public void A_line_that_is_not_json_is_named_by_its_line_number()
    {
        using var f = WithRecords(10);
        var lines = File.ReadAllLines(f.Store.AuditLogPath);
        lines[6] = "{ not json";
        File.WriteAllLines(f.Store.AuditLogPath, lines);

        Assert.Contains(f.Store.VerifyAuditLog().Problems, p => p.StartsWith("line 7: ", StringComparison.Ordinal) && p.Contains("not a JSON audit record", StringComparison.Ordinal));
    }

    [Fact]
    public void An_intact_log_has_no_problems()
    {
        using var f = WithRecords(10);
        Assert.Empty(f.Store.VerifyAuditLog().Problems);
    }

    private static StoreFixture WithRecords(int count)
    {
        var f = new StoreFixture(); // CreateKey is record 1
        while (File.ReadAllLines(f.Store.AuditLogPath).Length < count)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        return f;
    }

    /// <summary>
    /// Edits that leave every field's value as it was (whitespace, an unknown field) pass the HMAC, which
    /// covers the fields; only the text shows them. Changing a value breaks the HMAC.
    /// </summary>
    private static string Edit(string line, string how) => how switch
    {
        "whitespace" => line.Replace("\"sequence\":", "\"sequence\": ", StringComparison.Ordinal),
        "unknown field" => line[..^1] + ",\"note\":\"nothing to see\"}",
        _ => line.Replace("user:admin", "user:mallory", StringComparison.Ordinal),
    };
}
