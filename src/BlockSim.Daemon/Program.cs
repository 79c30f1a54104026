using System.CommandLine;
using BlockSim.Daemon.Commands;

var root = new RootCommand("BlockSim: an encrypted NBD block device server and block-device simulator.")
{
    ServeCommand.Create(),
    VolumeCommands.Create(),
    KeyCommands.Create(),
    PolicyCommands.CreatePolicy(),
    PolicyCommands.CreateGrant(),
    AuditCommands.Create(),
    InfoCommand.Create(),
    TlsCommands.Create(),
};
CliContext.AddGlobalOptions(root);
// No termination handling by System.CommandLine: `serve` stops gracefully through the host (SIGTERM, SIGINT),
// whose flush and key zeroing must not be cut short by a fixed timeout; other commands just end.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
