namespace BlockSim.Daemon.Commands;

/// <summary>
/// A list for people, as ls -l or ps print one: a header, columns aligned, numbers and sizes right-aligned,
/// two spaces between columns, and the last column left unpadded so long descriptions do not trail blanks.
/// </summary>
internal sealed class TextTable
{
    private const string Gap = "  ";
    private readonly string[] _headers;
    private readonly bool[] _rightAligned;
    private readonly List<string[]> _rows = [];

    /// <param name="headers">Column titles; a title ending in '>' is right-aligned (the '>' is not printed).</param>
    public TextTable(params string[] headers)
    {
        _rightAligned = [.. headers.Select(h => h.EndsWith('>'))];
        _headers = [.. headers.Select(h => h.TrimEnd('>'))];
    }

    public TextTable Add(params string[] cells)
    {
        if (cells.Length != _headers.Length)
        {
            throw new ArgumentException($"A row of {cells.Length} cells in a table of {_headers.Length} columns.", nameof(cells));
        }

        _rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var widths = _headers.Select((h, c) => _rows.Select(row => row[c].Length).Prepend(h.Length).Max()).ToArray();
        var lines = _rows.Prepend(_headers).Select(row => string.Join(Gap, row.Select((cell, c) => Cell(cell, c, widths[c]))).TrimEnd());
        return string.Join(Environment.NewLine, lines);
    }

    private string Cell(string text, int column, int width) =>
        _rightAligned[column] ? text.PadLeft(width) : column == _headers.Length - 1 ? text : text.PadRight(width);
}
