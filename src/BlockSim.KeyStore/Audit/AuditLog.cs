using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Durability;

namespace BlockSim.KeyStore.Audit;

/// <summary>
/// JSON Lines, one record per request, allowed or denied. Each record carries its sequence number, the
/// SHA-256 of the previous line and an HMAC under a key derived from the root key; a head file keeps the
/// last sequence and hash (HMAC-protected too), so edits, deletions, reordering and truncation are all
/// detected by <see cref="Verify"/>. A record is on disk (flushed) before the request it describes returns.
/// <para>
/// Appending is two durable writes, the record then the head, so a crash can fall between them: the log
/// then holds one valid record more than the head says (a request that was recorded but never returned).
/// The next append rolls the head forward over that record (only over a record whose MAC verifies and
/// that follows the head's hash), and <see cref="Verify"/> accepts exactly that state. A line cut short
/// by a crash (no newline) was never acknowledged; the next append drops it.
/// </para>
/// <para>
/// Past <see cref="SegmentBytes"/> the log goes on in a new segment (see <see cref="Files"/>): the chain does
/// not restart, so <see cref="Verify"/> reads the segments as one log, and a missing, reordered or edited
/// segment breaks it as a missing, reordered or edited record would.
/// </para>
/// </summary>
internal sealed class AuditLog
{
    private const string SegmentPrefix = "audit.";
    private const string SegmentSuffix = ".jsonl";
    private readonly string _directory;
    private readonly string _path;
    private readonly string _headPath;
    private readonly byte[] _macKey;
    private readonly object _gate = new();

    public AuditLog(string directory, byte[] macKey)
    {
        _directory = directory;
        _path = Path.Combine(directory, "audit.jsonl");
        _headPath = Path.Combine(directory, "audit.head");
        _macKey = macKey;
    }

    /// <summary>The segment being written (audit.jsonl).</summary>
    public string FilePath => _path;

    /// <summary>
    /// Size at which the current segment is closed and a new one begun (zero: never). Closed segments are
    /// audit.000001.jsonl, audit.000002.jsonl, ... in order; the chain (sequence and previous hash) runs on
    /// from one segment into the next, so the segments together are one log.
    /// </summary>
    public long SegmentBytes { get; set; }

    /// <summary>Every segment, oldest first, the one being written last (if it exists).</summary>
    public IReadOnlyList<string> Files()
    {
        var closed = System.IO.Directory.Exists(_directory)
            ? System.IO.Directory.GetFiles(_directory, SegmentPrefix + "*" + SegmentSuffix)
                .Select(path => (Path: path, Number: SegmentNumber(path)))
                .Where(s => s.Number > 0)
                .OrderBy(s => s.Number)
                .Select(s => s.Path)
                .ToList()
            : [];
        if (File.Exists(_path))
        {
            closed.Add(_path);
        }

        return closed;
    }

    /// <summary>The number of a closed segment's file name (audit.000042.jsonl: 42); 0 for any other file.</summary>
    private static long SegmentNumber(string path)
    {
        var name = Path.GetFileName(path);
        var middle = name.Length > SegmentPrefix.Length + SegmentSuffix.Length ? name[SegmentPrefix.Length..^SegmentSuffix.Length] : "";
        return middle.Length >= 6 && middle.All(char.IsAsciiDigit) && long.TryParse(middle, out var number) ? number : 0;
    }

    /// <summary>
    /// Closes the current segment when it has reached <see cref="SegmentBytes"/>: a rename into the next
    /// number, made durable with the directory. The head file is untouched (it names the last record,
    /// wherever it lies), so a crash before the next record leaves a log that verifies as it is.
    /// </summary>
    private void RotateIfFull()
    {
        if (SegmentBytes <= 0 || !File.Exists(_path) || new FileInfo(_path).Length < SegmentBytes)
        {
            return;
        }

        var files = Files();
        var next = files.Count > 1 ? SegmentNumber(files[^2]) + 1 : 1;
        DurableFile.Rename(_path, Path.Combine(_directory, $"{SegmentPrefix}{next:D6}{SegmentSuffix}"), overwrite: false);
    }

    /// <summary>Appends and flushes one record; throws if it cannot, so the caller fails closed. Returns the new head.</summary>
    public (long Sequence, string Hash) Append(AuditRecord record)
    {
        lock (_gate)
        {
            var (sequence, previousHash) = CatchUpHead();
            RotateIfFull();
            record.Sequence = sequence + 1;
            record.PreviousHash = previousHash;
            record.Hmac = "";
            record.Hmac = Convert.ToHexString(HMACSHA256.HashData(_macKey, Serialize(record)));
            var line = Serialize(record);
            DurableFile.Append(_path, [.. line, (byte)'\n']);
            var hash = Convert.ToHexString(SHA256.HashData(line));
            WriteHead(record.Sequence, hash);
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
            foreach (var line in CompleteLines(file))
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
            var lines = CompleteLines(file);
            for (var index = 0; index < lines.Length; index++)
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
            var head = Path.GetFileName(_headPath);
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

    /// <summary>A segment's lines, without a last line cut short by a crash (one with no newline).</summary>
    private static string[] CompleteLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var text = File.ReadAllText(path);
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }

    /// <summary>
    /// The head, brought up to date after a crash between the record and the head writes: a cut-short last
    /// line is dropped, and a last record one past the head, chained to it and with a valid MAC, becomes
    /// the head. Anything else is left for <see cref="Verify"/> to report.
    /// </summary>
    private (long Sequence, string Hash) CatchUpHead()
    {
        var head = ReadHead();
        if (!File.Exists(_path))
        {
            return head;
        }

        var last = DropCutShortLineAndReadLast();
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
        WriteHead(record.Sequence, hash);
        return (record.Sequence, hash);
    }

    /// <summary>
    /// Cuts the file back to its last newline when a crash left a partial line after it, then returns the
    /// last complete line (without its newline), or null for an empty log. One open, one read of the tail.
    /// </summary>
    private byte[]? DropCutShortLineAndReadLast()
    {
        using var file = new FileStream(_path, FileMode.Open, FileAccess.ReadWrite);
        if (file.Length == 0)
        {
            return null;
        }

        var window = (int)Math.Min(file.Length, TailWindow);
        var tail = new byte[window];
        file.Seek(-window, SeekOrigin.End);
        file.ReadExactly(tail);
        var end = Array.LastIndexOf(tail, (byte)'\n'); // the newline that ends the last complete line
        if (end < 0 && file.Length > window)
        {
            return null; // not a cut-short record (those are short): leave it for Verify to report
        }

        if (end != window - 1)
        {
            file.SetLength(file.Length - window + end + 1);
            file.Flush(flushToDisk: true);
        }

        if (end < 0)
        {
            return null;
        }

        var start = end == 0 ? 0 : Array.LastIndexOf(tail, (byte)'\n', end - 1) + 1;
        return tail[start..end];
    }

    // Records are a few hundred bytes; a window this size always holds the last one whole.
    private const int TailWindow = 64 * 1024;

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
        if (!File.Exists(_headPath))
        {
            return (0, "");
        }

        var parts = File.ReadAllText(_headPath).Trim().Split(' ');
        if (parts.Length != 3 || !long.TryParse(parts[0], out var sequence) || !MacMatches(parts[2], HeadMac(sequence, parts[1])))
        {
            throw new KeyStoreException(KeyStoreErrors.AuditLogDamaged, $"{_headPath} is damaged; run audit verify and restore the log before using the store.");
        }

        return (sequence, parts[1]);
    }

    private void WriteHead(long sequence, string hash) =>
        DurableFile.Replace(_headPath, Encoding.ASCII.GetBytes($"{sequence} {hash} {Convert.ToHexString(HeadMac(sequence, hash))}\n"));

    private byte[] HeadMac(long sequence, string hash) => HMACSHA256.HashData(_macKey, Encoding.ASCII.GetBytes($"head {sequence} {hash}"));
}
