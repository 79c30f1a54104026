namespace BlockSim.Daemon.Admin;

/// <summary>
/// Who may connect to the admin socket: its owner (the daemon's user) and the members of one group. The
/// socket is 0660 in that group, and the data directory around it 0710 in that group, so members can reach
/// the socket and list or read nothing else there. Without the group the socket is the owner's alone (0600).
/// </summary>
internal sealed class AdminSocketAccess(string groupName, string dataDirectory)
{
    public const string DefaultGroup = "blocksim";

    /// <summary>The group's id; null when the system has no such group.</summary>
    public uint? GroupId { get; } = LocalAccounts.GroupId(groupName);

    /// <summary>Sets the socket's (and data directory's) group and mode; says what was done, for the log.</summary>
    public string Apply(string socketPath)
    {
        const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        File.SetUnixFileMode(socketPath, Owner);
        if (GroupId is not { } gid)
        {
            return $"mode 0600: only its owner may connect (there is no group '{groupName}'; create it and add administrators to open it to them)";
        }

        try
        {
            LocalAccounts.ChangeGroup(socketPath, gid);
            if (Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(socketPath))!) == Path.GetFullPath(dataDirectory))
            {
                LocalAccounts.ChangeGroup(dataDirectory, gid);
                File.SetUnixFileMode(dataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute);
            }
        }
        catch (IOException e)
        {
            // A service user outside the group may not hand files to it (EPERM): stay the owner's alone.
            return $"mode 0600: only its owner may connect ({e.Message} The daemon's user must be a member of '{groupName}', e.g. SupplementaryGroups={groupName} in its unit.)";
        }

        File.SetUnixFileMode(socketPath, Owner | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        return $"mode 0660, group '{groupName}'";
    }
}
