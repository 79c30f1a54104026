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
    KeyStoreCommands.Create(),
    InfoCommand.Create(),
    StatusCommand.Create(),
    TlsCommands.Create(),
    SimCommands.Create(),
    RecordCommands.Create(),
    CrashCommands.Create(),
};
CliContext.AddGlobalOptions(root);
root.Subcommands.Add(ManPage.Create(root));
HelpNames.Apply(root);
return await CommandLineEntry.RunAsync(root, args);
