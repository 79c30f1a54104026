using System.Text;
using BlockSim.Storage.Durability;

namespace BlockSim.KeyStore.Media;

/// <summary>
/// The audit log as JSON Lines files in the store's directory: audit.jsonl being written, closed segments
/// audit.000001.jsonl, audit.000002.jsonl, ... before it, and audit.head. Appending is two durable writes,
/// the line then the head, so a crash can leave the head one record behind, or a last line cut short; the
/// log above catches up from both (<see cref="LastLine"/> drops a cut-short line).
/// </summary>
public sealed class FileAuditStorage(string directory) : IAuditStorage
{
    private const string SegmentPrefix = "audit.";
    private const string SegmentSuffix = ".jsonl";

    // Records are a few hundred bytes; a window this size always holds the last one whole.
    private const int TailWindow = 64 * 1024;

    /// <summary>The segment being written (audit.jsonl).</summary>
    public string FilePath { get; } = Path.Combine(directory, "audit.jsonl");

    public string HeadPath { get; } = Path.Combine(directory, "audit.head");

    public string Location => FilePath;

    public string HeadName => Path.GetFileName(HeadPath);

    /// <summary>
    /// Size at which the current segment is closed and a new one begun (zero: never). The chain runs on from
    /// one segment into the next, so the segments together are one log.
    /// </summary>
    public long SegmentBytes { get; set; }

    /// <summary>Every segment's path, oldest first, the one being written last (if it exists).</summary>
    public IReadOnlyList<string> Segments()
    {
        var closed = Directory.Exists(directory)
            ? Directory.GetFiles(directory, SegmentPrefix + "*" + SegmentSuffix)
                .Select(path => (Path: path, Number: SegmentNumber(path)))
                .Where(s => s.Number > 0)
                .OrderBy(s => s.Number)
                .Select(s => s.Path)
                .ToList()
            : [];
        if (File.Exists(FilePath))
        {
            closed.Add(FilePath);
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

    /// <summary>A segment's lines, without a last line cut short by a crash (one with no newline).</summary>
    public IReadOnlyList<string> ReadLines(string segment)
    {
        if (!File.Exists(segment))
        {
            return [];
        }

        var text = File.ReadAllText(segment);
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }

    public string? ReadHead() => File.Exists(HeadPath) ? File.ReadAllText(HeadPath) : null;

    public void WriteHead(string head) => DurableFile.Replace(HeadPath, Encoding.ASCII.GetBytes(head + "\n"));

    public void Append(long sequence, byte[] line, string head)
    {
        RotateIfFull();
        DurableFile.Append(FilePath, [.. line, (byte)'\n']);
        WriteHead(head);
    }

    /// <summary>
    /// Closes the segment being written, whole, when it holds more than <paramref name="keepLast"/> records
    /// (a file segment is not split): the next record begins a new one.
    /// </summary>
    public AuditArchive Archive(int keepLast)
    {
        var records = ReadLines(FilePath).Count;
        if (records == 0 || records <= keepLast)
        {
            return new AuditArchive(0, []);
        }

        return new AuditArchive(records, [CloseCurrentSegment()]);
    }

    /// <summary>
    /// Closes the current segment when it has reached <see cref="SegmentBytes"/>: a rename into the next
    /// number, made durable with the directory. The head is untouched (it names the last record, wherever it
    /// lies), so a crash before the next record leaves a log that verifies as it is.
    /// </summary>
    private void RotateIfFull()
    {
        if (SegmentBytes <= 0 || !File.Exists(FilePath) || new FileInfo(FilePath).Length < SegmentBytes)
        {
            return;
        }

        CloseCurrentSegment();
    }

    /// <summary>Renames audit.jsonl into the next closed segment's name, durably; returns that path.</summary>
    private string CloseCurrentSegment()
    {
        var files = Segments();
        var next = files.Count > 1 ? SegmentNumber(files[^2]) + 1 : 1;
        var closed = Path.Combine(directory, $"{SegmentPrefix}{next:D6}{SegmentSuffix}");
        DurableFile.Rename(FilePath, closed, overwrite: false);
        return closed;
    }

    /// <summary>
    /// Cuts the file back to its last newline when a crash left a partial line after it, then returns the
    /// last complete line (without its newline), or null for an empty log. One open, one read of the tail.
    /// </summary>
    public byte[]? LastLine()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        using var file = new FileStream(FilePath, FileMode.Open, FileAccess.ReadWrite);
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
            return null; // not a cut-short record (those are short): left for verification to report
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
}
