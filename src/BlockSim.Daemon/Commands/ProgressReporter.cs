using BlockSim.Storage;
using System.Diagnostics;
using System.Globalization;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// Progress of a long operation on standard error (standard output stays for results and --json): a bar
/// redrawn in place on a terminal, and otherwise a plain line every tenth of the way, for logs and scripts.
/// </summary>
internal sealed class ProgressReporter
{
    private const int BarWidth = 30;
    private readonly string _what;
    private readonly long _total;
    private readonly bool _terminal;
    private readonly TextWriter _output;
    private readonly bool _bytes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawnMs = -1;
    private int _lastTenth = -1;

    /// <param name="bytes">True when the counts are bytes (shown with units and a rate), false for items.</param>
    public ProgressReporter(string what, long total, bool bytes = true, bool? terminal = null, TextWriter? output = null)
    {
        _bytes = bytes;
        _what = what;
        _total = Math.Max(1, total);
        _terminal = terminal ?? !Console.IsErrorRedirected;
        _output = output ?? Console.Error;
    }

    public void Report(long done)
    {
        if (_terminal)
        {
            // Redrawing more than ten times a second only costs time.
            var now = _clock.ElapsedMilliseconds;
            if (done < _total && now - _lastDrawnMs < 100)
            {
                return;
            }

            _lastDrawnMs = now;
            var filled = (int)(BarWidth * done / _total);
            _output.Write($"\r{_what} [{new string('#', filled)}{new string(' ', BarWidth - filled)}] {Line(done)}");
            if (done >= _total)
            {
                _output.WriteLine();
            }

            return;
        }

        var tenth = (int)(10 * done / _total);
        if (tenth > _lastTenth)
        {
            _lastTenth = tenth;
            _output.WriteLine($"{_what}: {Line(done)}");
        }
    }

    private string Line(long done)
    {
        var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        if (!_bytes)
        {
            return $"{100 * done / _total,3}% {done} of {_total}";
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"{100 * done / _total,3}% {ByteSize.Format(done)} of {ByteSize.Format(_total)}, {ByteSize.Format((long)(done / seconds))}/s");
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
