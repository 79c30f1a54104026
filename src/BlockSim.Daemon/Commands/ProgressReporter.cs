using BlockSim.Storage;
using System.Diagnostics;
using System.Globalization;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// Progress of a long operation on standard error (standard output stays for results and --json): a bar
/// redrawn in place on a terminal, fitted to its width (a line wider than the terminal wraps, and each redraw
/// then starts a new row), with the rate and the time left; otherwise a plain line every tenth of the way, for
/// logs and scripts. 100% is drawn once. --no-progress (<see cref="Disabled"/>) turns it off.
/// </summary>
internal sealed class ProgressReporter
{
    private const int MaxBarWidth = 30;
    private const int MinBarWidth = 10;
    private readonly string _what;
    private readonly long _total;
    private readonly bool _terminal;
    private readonly TextWriter _output;
    private readonly bool _bytes;
    private readonly int? _width;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawnMs = -1;
    private int _lastTenth = -1;
    private bool _finished;

    /// <param name="bytes">True when the counts are bytes (shown with units and a rate), false for items.</param>
    /// <param name="width">The terminal's columns; default: the console's.</param>
    public ProgressReporter(string what, long total, bool bytes = true, bool? terminal = null, TextWriter? output = null, int? width = null)
    {
        _bytes = bytes;
        _what = what;
        _total = Math.Max(1, total);
        _terminal = terminal ?? !Console.IsErrorRedirected;
        _output = output ?? Console.Error;
        _width = width;
    }

    /// <summary>Set from --no-progress for the whole command: nothing is drawn.</summary>
    public static bool Disabled { get; set; }

    public void Report(long done)
    {
        if (Disabled || _finished)
        {
            return;
        }

        var complete = done >= _total;
        if (_terminal)
        {
            // Redrawing more than ten times a second only costs time.
            var now = _clock.ElapsedMilliseconds;
            if (!complete && now - _lastDrawnMs < 100)
            {
                return;
            }

            _lastDrawnMs = now;
            _output.Write($"\r{Render(done, _clock.Elapsed.TotalSeconds, Columns())}\u001b[K"); // erase what a longer line left
            if (complete)
            {
                _output.WriteLine();
                _finished = true;
            }

            return;
        }

        var tenth = (int)(10 * Math.Min(done, _total) / _total);
        if (tenth > _lastTenth)
        {
            _lastTenth = tenth;
            _output.WriteLine($"{_what}: {Figures(done, _clock.Elapsed.TotalSeconds, withTimes: true)}");
            _finished = complete;
        }
    }

    /// <summary>The terminal line, at most <paramref name="columns"/> - 1 wide: the bar narrows first, then the rate and time left go, then the label is cut.</summary>
    internal string Render(long done, double seconds, int columns)
    {
        var room = Math.Max(columns - 1, 20);
        foreach (var withTimes in new[] { true, false })
        {
            var figures = Figures(done, seconds, withTimes);
            var bar = room - _what.Length - figures.Length - 4; // " [" and "] "
            if (bar >= MinBarWidth)
            {
                return $"{_what} [{Bar(done, Math.Min(bar, MaxBarWidth))}] {figures}";
            }
        }

        var shortest = Figures(done, seconds, withTimes: false);
        var label = room - shortest.Length - 1;
        return label > 0 ? $"{_what[..Math.Min(_what.Length, label)]} {shortest}" : shortest[..Math.Min(shortest.Length, room)];
    }

    private string Bar(long done, int width)
    {
        var filled = (int)(width * Math.Min(done, _total) / _total);
        return new string('#', filled) + new string(' ', width - filled);
    }

    private string Figures(long done, double seconds, bool withTimes)
    {
        seconds = Math.Max(seconds, 1e-3);
        var percent = 100 * Math.Min(done, _total) / _total;
        var counts = _bytes ? $"{percent,3}% {ByteSize.Format(done)} of {ByteSize.Format(_total)}" : $"{percent,3}% {done} of {_total}";
        if (!withTimes)
        {
            return counts;
        }

        var rate = done / seconds;
        var speed = _bytes ? $"{ByteSize.Format((long)rate)}/s" : string.Create(CultureInfo.InvariantCulture, $"{rate:0.#}/s");
        var left = done >= _total ? $"in {Clock(seconds)}" : rate > 0 && done > 0 ? $"ETA {Clock((_total - done) / rate)}" : "ETA --:--";
        return $"{counts}, {speed}, {left}";
    }

    /// <summary>m:ss, or h:mm:ss from an hour.</summary>
    private static string Clock(double seconds)
    {
        var time = TimeSpan.FromSeconds(Math.Min(Math.Ceiling(seconds), 359_999));
        return time.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{time.Minutes}:{time.Seconds:00}");
    }

    private int Columns()
    {
        if (_width is { } width)
        {
            return width;
        }

        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }
}

/// <summary>
/// Reports on the calling thread (<see cref="Progress{T}"/> posts to the thread pool, so its last report
/// could print after the command's result).
/// </summary>
internal sealed class SynchronousProgress(Action<long> report) : IProgress<long>
{
    public void Report(long value) => report(value);
}
