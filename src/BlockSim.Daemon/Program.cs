using System.CommandLine;
using BlockSim.Daemon.Commands;

var root = new RootCommand("BlockSim: an encrypted NBD block device server and block-device simulator.")
{
    ServeCommand.Create(),
    InfoCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
