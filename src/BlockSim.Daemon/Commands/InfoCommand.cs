using System.CommandLine;
using System.Reflection;
using BlockSim.Crypto;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim info</c>: version, the XTS tier this process would use, and the CPU features behind it.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the version, the XTS tier in use and the CPU features.");
        command.SetAction(r =>
        {
            var version = typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            string? tier = null;
            string? problem = null;
            try
            {
                tier = XtsTiers.Default.ToString();
            }
            catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
            {
                problem = e.Message;
            }

            var info = new InfoResult(version, $".NET {Environment.Version}", tier, [.. XtsTiers.Supported.Select(t => t.ToString())], XtsTiers.DescribeCpu());
            CliContext.Print(r, info, CliJson.Output.InfoResult, i => string.Join(
                Environment.NewLine,
                $"blocksim {i.Version}",
                $"runtime: {i.Runtime}",
                i.XtsTier is null ? "xts tier: none (the reason follows on standard error)" : $"xts tier: {i.XtsTier} (supported: {string.Join(", ", i.SupportedTiers)})",
                $"cpu: {i.Cpu}"));
            if (problem is not null)
            {
                Console.Error.WriteLine($"xts tier: {problem}");
                return ExitCodes.Usage;
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
