namespace BlockSim.Daemon.Commands;

/// <summary>Exit codes scripts can tell apart.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Usage = 2;
    public const int NotFound = 3;
    public const int Denied = 4;
    public const int IOError = 5;

    /// <summary>An exception no command expected: a bug, reported in one line without a stack trace.</summary>
    public const int Internal = 70;
}
