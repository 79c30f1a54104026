using System.Globalization;
using System.Text;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// The process_* metrics every Prometheus client library exports (client_golang's process collector), from
/// /proc/self at each scrape, so the standard dashboards and alerts (CPU, memory, file descriptors left) work
/// as they do for any other exporter: process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds.
/// </summary>
internal static class StandardProcessMetrics
{
    /// <summary>Clock ticks a second (sysconf(_SC_CLK_TCK)); 100 on every Linux this runs on.</summary>
    private const double TicksPerSecond = 100;

    public static void Write(StringBuilder text)
    {
        if (ReadStat() is { } stat)
        {
            Metric(text, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", (stat.UserTicks + stat.SystemTicks) / TicksPerSecond);
            Metric(text, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.VirtualBytes);
            Metric(text, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", stat.ResidentPages * (double)Environment.SystemPageSize);
            if (BootTime() is { } boot)
            {
                Metric(text, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", boot + stat.StartTicks / TicksPerSecond);
            }
        }

        if (OpenDescriptors() is { } open)
        {
            Metric(text, "process_open_fds", "gauge", "Number of open file descriptors.", open);
        }

        if (MaxDescriptors() is { } max)
        {
            Metric(text, "process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
        }
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {PrometheusExporter.Format(value)}\n");

    /// <summary>Fields of /proc/self/stat after the command name (which may hold spaces and parentheses): utime 14, stime 15, starttime 22, vsize 23, rss 24.</summary>
    private static (long UserTicks, long SystemTicks, long StartTicks, long VirtualBytes, long ResidentPages)? ReadStat()
    {
        try
        {
            var line = File.ReadAllText("/proc/self/stat");
            var fields = line[(line.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture); // fields[0] is field 3 (state)
            return (Field(14), Field(15), Field(22), Field(23), Field(24));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static double? BootTime()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("btime ", StringComparison.Ordinal));
            return line is null ? null : double.Parse(line[6..], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static int? OpenDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double? MaxDescriptors()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var soft = line?[26..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            return soft is null ? null : soft == "unlimited" ? double.PositiveInfinity : double.Parse(soft, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
