using BlockSim.Daemon.Commands;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The progress bar as a terminal shows it: fitted to the terminal's width (a wider line wraps, and every
/// redraw then starts a new row: a staircase), 100% drawn once, a time left; plain lines without a terminal.
/// </summary>
public class ProgressReporterTests
{
    [Theory]
    [InlineData(60)]
    [InlineData(80)]
    [InlineData(30)]
    public void On_a_terminal_every_redraw_fits_its_width_and_100_percent_is_drawn_once(int columns)
    {
        var output = new StringWriter();
        var progress = new ProgressReporter("importing disk-image-with-a-long-name.raw", 10L << 30, terminal: true, output: output, width: columns);
        for (long done = 0; done <= 10L << 30; done += 1L << 30)
        {
            progress.Report(done);
            Thread.Sleep(110); // past the redraw limit, so each one is drawn
        }

        progress.Report(10L << 30); // the copy's last chunk and its flush both report the end
        var draws = output.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries).Select(d => d.Replace("\u001b[K", "", StringComparison.Ordinal).TrimEnd('\n')).ToList();
        Assert.All(draws, d => Assert.True(d.Length <= columns - 1, $"'{d}' is {d.Length} columns wide on a {columns}-column terminal"));
        Assert.Single(draws, d => d.Contains("100%", StringComparison.Ordinal));
        Assert.EndsWith("\n", output.ToString());
        Assert.Equal(1, output.ToString().Count(c => c == '\n'));
    }

    [Fact]
    public void A_wide_terminal_shows_the_bar_the_rate_and_the_time_left()
    {
        var progress = new ProgressReporter("exporting v", 100L << 20, terminal: true, output: new StringWriter(), width: 120);
        var line = progress.Render(25L << 20, seconds: 5, columns: 120);
        Assert.Matches(@"^exporting v \[#######                       \]  25% 25 MiB of 100 MiB, 5 MiB/s, ETA 0:15$", line);
        var narrow = progress.Render(25L << 20, seconds: 5, columns: 50);
        Assert.DoesNotContain("/s", narrow); // the rate and time left go before the bar would be too short to read
        Assert.Contains("[", narrow);
    }

    [Fact]
    public void Without_a_terminal_each_tenth_is_one_line_and_the_end_one_too()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter("rolling v back", 1000, terminal: false, output: output);
        for (long done = 0; done <= 1000; done += 50)
        {
            progress.Report(done);
        }

        progress.Report(1000);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, lines.Length); // 0%, 10%, ... 100%
        Assert.Single(lines, l => l.Contains("100%", StringComparison.Ordinal));
        Assert.Contains(", in 0:", lines[^1]); // how long it took
    }

    [Fact]
    public void No_progress_draws_nothing()
    {
        var output = new StringWriter();
        ProgressReporter.Disabled = true;
        try
        {
            var progress = new ProgressReporter("x", 10, terminal: true, output: output);
            progress.Report(5);
            progress.Report(10);
        }
        finally
        {
            ProgressReporter.Disabled = false;
        }

        Assert.Empty(output.ToString());
    }
}
