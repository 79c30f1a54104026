using System.Globalization;
using System.Text;

namespace BlockSim.LoadTest;

/// <summary>One row a measured second, for spreadsheets and scripts: requests, MB/s, and that second's p50 and p99 in microseconds (empty when no request completed).</summary>
public static class CsvReport
{
    public const string Header = "second,requests,mb_per_second,p50_us,p99_us";

    public static string Write(LoadResult result)
    {
        var text = new StringBuilder().Append(Header).Append('\n');
        for (var i = 0; i < result.RequestsPerSecond.Count; i++)
        {
            var requests = result.RequestsPerSecond[i];
            var (p50, p99) = i < result.LatencyPerSecond.Count ? result.LatencyPerSecond[i] : (double.NaN, double.NaN);
            text.Append(CultureInfo.InvariantCulture, $"{i + 1},{requests},{requests * (double)result.Options.BlockSize / 1e6:0.###},{Cell(p50)},{Cell(p99)}\n");
        }

        return text.ToString();
    }

    private static string Cell(double value) => double.IsNaN(value) ? "" : value.ToString("0", CultureInfo.InvariantCulture);
}
