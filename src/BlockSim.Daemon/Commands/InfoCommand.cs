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
        command.SetAction(_ =>
        {
            var version = typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            Console.WriteLine($"blocksim {version}");
            Console.WriteLine($"runtime: .NET {Environment.Version}");
            try
            {
                Console.WriteLine($"xts tier: {XtsTiers.Default} (supported: {string.Join(", ", XtsTiers.Supported)})");
            }
            catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
            {
                Console.Error.WriteLine($"xts tier: {e.Message}");
                return ExitCodes.Usage;
            }

            Console.WriteLine($"cpu: {XtsTiers.DescribeCpu()}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
