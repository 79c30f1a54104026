namespace BlockSim.Nbd.Protocol;

/// <summary>The errno name of each NBD error, as the protocol document and the kernel name them (EIO, ENOSPC, ...): for metrics labels and reports.</summary>
public static class NbdErrorNames
{
    public static string Of(NbdError error) => error switch
    {
        NbdError.NotPermitted => "EPERM",
        NbdError.IO => "EIO",
        NbdError.NoMemory => "ENOMEM",
        NbdError.Invalid => "EINVAL",
        NbdError.NoSpace => "ENOSPC",
        NbdError.Overflow => "EOVERFLOW",
        NbdError.NotSupported => "ENOTSUP",
        NbdError.Shutdown => "ESHUTDOWN",
        _ => "other",
    };
}
