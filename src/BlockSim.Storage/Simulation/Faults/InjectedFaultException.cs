namespace BlockSim.Storage.Simulation.Faults;

/// <summary>A simulated failure, with the errno the client is to get (EIO, ENOSPC, EPERM, ESHUTDOWN).</summary>
public sealed class InjectedFaultException : IOException
{
    public InjectedFaultException(int errno, string message)
        : base(message)
    {
        Errno = errno;
        HResult = errno;
    }

    public int Errno { get; }

    /// <summary>The connection the request came on is to be dropped, not answered (a simulated reset).</summary>
    public bool ResetsConnection { get; init; }
}
