using System.Globalization;
using System.Reflection;
using System.Text;
using BlockSim.Crypto;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// <c>blocksim_build_info{version,runtime,xts_tier} 1</c>, as Prometheus' own *_build_info: the labels say
/// which build and cipher tier served, so a dashboard can tell an upgrade or a fallback to a slower tier.
/// </summary>
internal static class BuildInfo
{
    private static readonly Lazy<string> s_line = new(() =>
    {
        var version = typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        string tier;
        try
        {
            tier = XtsTiers.Default.ToString();
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
        {
            tier = "none";
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"# HELP blocksim_build_info The running build: version, .NET runtime and XTS tier.\n# TYPE blocksim_build_info gauge\nblocksim_build_info{{version=\"{version}\",runtime=\"{Environment.Version}\",xts_tier=\"{tier}\"}} 1\n");
    });

    public static void Write(StringBuilder text) => text.Append(s_line.Value);
}
