using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore.Audit;

/// <summary>
/// JSON Lines, one record per request, allowed or denied. Each record carries its sequence number, the
/// SHA-256 of the previous line and an HMAC under the audit key; a head (HMAC-protected too) keeps the last
/// sequence and hash, so edits, deletions, reordering and truncation are all detected by <see cref="Verify"/>.
/// A record is durable before the request it describes returns. Where the lines live is the
/// <see cref="IAuditStorage"/>'s business; the chain is built and checked here, the same for every medium.
/// <para>
/// A storage without transactions (files) appends the record then the head, so a crash can fall between
/// them: the log then holds one valid record more than the head says (a request that was recorded but never
/// returned). The next append rolls the head forward over that record (only over a record whose MAC
/// verifies and that follows the head's hash), and <see cref="Verify"/> accepts exactly that state.
/// </para>
/// <para>
/// A log in segments (files past a size) is one chain: sequence and previous hash run on from one segment
/// into the next, so a missing, reordered or edited segment breaks it as a missing, reordered or edited
/// record would.
/// </para>
/// </summary>
internal sealed class AuditLog(IAuditStorage storage, byte[] macKey)
{
    private readonly byte[] _macKey = macKey;
    private readonly object _gate = new();

    public IAuditStorage Storage => storage;

    /// <summary>Every segment, oldest first.</summary>
    public IReadOnlyList<string> Files() => storage.Segments();

    /// <summary>Appends one record durably; throws if it cannot, so the caller fails closed. Returns the new head.</summary>
    public (long Sequence, string Hash) Append(AuditRecord record)
    {
        lock (_gate)
        {
            var (sequence, previousHash) = CatchUpHead();
            record.Sequence = sequence + 1;
            record.PreviousHash = previousHash;
            record.Hmac = "";
            record.Hmac = Convert.ToHexString(HMACSHA256.HashData(_macKey, Serialize(record)));
            var line = Serialize(record);
            var hash = Convert.ToHexString(SHA256.HashData(line));
            storage.Append(record.Sequence, line, HeadText(record.Sequence, hash));
            return (record.Sequence, hash);
        }
    }

    /// <summary>The last record's sequence and hash (after catching up from a crash).</summary>
    public (long Sequence, string Hash) Head()
    {
        lock (_gate)
        {
            return CatchUpHead();
        }
    }

    /// <summary>
    /// The first record, oldest segment first, that matches and whose HMAC verifies: a record the store wrote,
    /// not one added or edited outside it. A line that is not a record is skipped (<see cref="Verify"/> reports
    /// it). One segment in memory at a time; meant for rare look-ups, not for a request's hot path.
    /// </summary>
    public AuditRecord? FindFirst(Func<AuditRecord, bool> match)
    {
        foreach (var file in Files())
        {
            foreach (var line in storage.ReadLines(file))
            {
                AuditRecord? record;
                try
                {
                    record = JsonSerializer.Deserialize<AuditRecord>(line, StoreFile.Json);
                }
                catch (JsonException)
                {
                    continue;
                }

                if (record is not null && match(record) && HasValidMac(record))
                {
                    return record;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Checks the whole chain, the head file, and the log against the store's anchor (the head as of the
    /// store's last write, which every request makes). A log that ends before the anchor was rolled back or
    /// truncated; one whose anchored record differs was replaced. Records after the anchor are a note, not a
    /// problem: their requests never reached their store write (a crash or a failed write), so they changed
    /// nothing. What the anchor cannot see: the whole directory (store copies and log) put back together,
    /// and records after the anchor removed.
    /// </summary>
    public AuditVerification Verify(AuditAnchor? anchor)
    {
        var (problems, records, anchored) = VerifyChain(anchor?.Sequence ?? 0);
        var notes = new List<string>();
        if (anchor is null)
        {
            notes.Add("the store holds no anchor for the log yet (written before anchoring existed); its next request adds one");
        }
        else if (records < anchor.Sequence)
        {
            problems.Add($"the log ends at record {records}, the store's anchor says record {anchor.Sequence}: {AuditVerification.Range(records + 1, anchor.Sequence)} are missing (rolled back or truncated)");
        }
        else if (anchor.Sequence > 0 && anchored is { } line && line.Hash != anchor.Hash)
        {
            problems.Add($"record {anchor.Sequence} ({line.Where}) is not the record the store's anchor names: it was edited, or the log replaced or rewritten from there");
        }
        else if (records > anchor.Sequence)
        {
            notes.Add($"{AuditVerification.Range(anchor.Sequence + 1, records)} came after the store's last write, so not committed: their requests did not complete (a crash or a failed store write)");
        }

        return new AuditVerification(problems, records, notes);
    }

    /// <summary>
    /// The chain through every segment in order, and the head file: problems, the record count, and the hash
    /// and place of the line at <paramref name="anchorLine"/> (null if the log has no such line). Each problem
    /// names the record (its sequence number and its line, in its segment once there are several) and what did
    /// not match: its sequence number, its link to the line before (previousHash), its HMAC (which covers the
    /// fields), its text (an edit that leaves every field's value alone, such as spacing or an added field,
    /// keeps the HMAC but not the text the store wrote), or the head. One segment in memory at a time.
    /// </summary>
    private (List<string> Problems, long Records, (string Hash, string Where)? Anchored) VerifyChain(long anchorLine)
    {
        var problems = new List<string>();
        var previousHash = "";
        var beforeLastHash = "";
        (string Hash, string Where)? anchored = null;
        long expected = 1;
        long total = 0;
        var readable = true;
        var files = Files();
        var segmented = files.Count > 1;
        foreach (var file in files)
        {
            var lines = storage.ReadLines(file);
            for (var index = 0; index < lines.Count; index++)
            {
                total++;
                if (!readable)
                {
                    continue; // counted, not checked
                }

                var line = Encoding.UTF8.GetBytes(lines[index]);
                var number = index + 1;
                var at = segmented ? $"line {number} of {Path.GetFileName(file)}" : $"line {number}";
                AuditRecord? record;
                try
                {
                    record = JsonSerializer.Deserialize<AuditRecord>(line, StoreFile.Json);
                }
                catch (JsonException)
                {
                    record = null;
                }

                if (record is null)
                {
                    problems.Add($"{at}: not a JSON audit record (damaged or edited); the lines after it were not checked");
                    readable = false;
                    continue;
                }

                var where = $"record {record.Sequence} ({at})";
                if (record.Sequence != expected)
                {
                    problems.Add($"{where}: sequence {record.Sequence} where {expected} was expected (a record was deleted, inserted or moved)");
                }

                if (record.PreviousHash != previousHash)
                {
                    var before = number > 1 ? $"line {number - 1}" : "the last line of the segment before";
                    problems.Add(total == 1
                        ? $"{where}: its previousHash is not empty, as the first record's is (records before it were removed)"
                        : $"{where}: its previousHash is not the SHA-256 of {before} (the chain is broken there: that line was changed, or records removed or inserted between them)");
                }

                var mac = record.Hmac;
                if (!HasValidMac(record))
                {
                    problems.Add($"{where}: its HMAC does not match its fields (a field was edited)");
                }
                else
                {
                    record.Hmac = mac;
                    if (!Serialize(record).AsSpan().SequenceEqual(line))
                    {
                        problems.Add($"{where}: its fields carry a valid HMAC, but the line is not the text the store wrote (edited: spacing, order, line ending or an added field)");
                    }
                }

                beforeLastHash = previousHash;
                previousHash = Convert.ToHexString(SHA256.HashData(line));
                if (total == anchorLine)
                {
                    anchored = (previousHash, at);
                }

                expected = record.Sequence + 1;
            }
        }

        try
        {
            var (headSequence, headHash) = ReadHead();
            var headLagsByOne = total > 0 && problems.Count == 0 && headSequence == total - 1 && headHash == beforeLastHash;
            var head = storage.HeadName;
            if (headLagsByOne)
            {
                return (problems, total, anchored); // a crash between the record and the head: the next append catches up
            }

            var from = segmented ? "" : $" (from line {headSequence + 1})";
            if (headSequence < total)
            {
                problems.Add($"the log holds {total} records but its head ({head}) says {headSequence}: {AuditVerification.Range(headSequence + 1, total)}{from} were added outside the store");
            }
            else if (headSequence > total)
            {
                problems.Add($"the log holds {total} records but its head ({head}) says {headSequence}: {AuditVerification.Range(total + 1, headSequence)} are missing (truncated)");
            }
            else if (headHash != previousHash)
            {
                var last = segmented ? $"the last line of {Path.GetFileName(files[^1])}" : $"line {total}";
                problems.Add($"record {headSequence} ({last}), the last, is not the record its head ({head}) names: its text was changed, or the record replaced, after it was written");
            }
        }
        catch (KeyStoreException e)
        {
            problems.Add(e.Message);
        }

        return (problems, total, anchored);
    }

    /// <summary>
    /// The head, brought up to date after a crash between the record and the head writes: a cut-short last
    /// line is dropped, and a last record one past the head, chained to it and with a valid MAC, becomes
    /// the head. Anything else is left for <see cref="Verify"/> to report.
    /// </summary>
    private (long Sequence, string Hash) CatchUpHead()
    {
        var head = ReadHead();
        var last = storage.LastLine();
        if (last is null || Convert.ToHexString(SHA256.HashData(last)) == head.Hash)
        {
            return head;
        }

        AuditRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<AuditRecord>(last, StoreFile.Json);
        }
        catch (JsonException)
        {
            return head;
        }

        if (record is null || record.Sequence != head.Sequence + 1 || record.PreviousHash != head.Hash || !HasValidMac(record))
        {
            return head;
        }

        var hash = Convert.ToHexString(SHA256.HashData(last));
        storage.WriteHead(HeadText(record.Sequence, hash));
        return (record.Sequence, hash);
    }

    /// <summary>True when the record's HMAC is the one its other fields give (the record is left with an empty HMAC).</summary>
    private bool HasValidMac(AuditRecord record)
    {
        var mac = record.Hmac;
        record.Hmac = "";
        return MacMatches(mac, HMACSHA256.HashData(_macKey, Serialize(record)));
    }

    /// <summary>Compares a MAC written as hex with the expected one; damaged hex is a mismatch, not an exception.</summary>
    private static bool MacMatches(string? hex, byte[] expected)
    {
        Span<byte> mac = stackalloc byte[32];
        return hex is { Length: 64 }
            && Convert.FromHexString(hex, mac, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == mac.Length
            && CryptographicOperations.FixedTimeEquals(mac, expected);
    }

    private static byte[] Serialize(AuditRecord record) =>
        JsonSerializer.SerializeToUtf8Bytes(record, new JsonSerializerOptions(StoreFile.Json) { WriteIndented = false });

    private (long Sequence, string Hash) ReadHead()
    {
        if (storage.ReadHead() is not { } text)
        {
            return (0, "");
        }

        var parts = text.Trim().Split(' ');
        if (parts.Length != 3 || !long.TryParse(parts[0], out var sequence) || !MacMatches(parts[2], HeadMac(sequence, parts[1])))
        {
            throw new KeyStoreException(KeyStoreErrors.AuditLogDamaged, $"The audit log's head ({storage.HeadName} in {storage.Location}) is damaged; run audit verify and restore the log before using the store.");
        }

        return (sequence, parts[1]);
    }

    private string HeadText(long sequence, string hash) => $"{sequence} {hash} {Convert.ToHexString(HeadMac(sequence, hash))}";

    private byte[] HeadMac(long sequence, string hash) => HMACSHA256.HashData(_macKey, Encoding.ASCII.GetBytes($"head {sequence} {hash}"));
}
