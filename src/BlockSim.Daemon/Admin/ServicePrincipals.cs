using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The principals that are BlockSim itself (the daemon that attaches volumes, the key store's own
/// housekeeping, the CLI acting for a user): grants and policies name them, so nobody may claim them.
/// </summary>
internal static class ServicePrincipals
{
    public static bool IsReserved(string principal) =>
        principal.StartsWith("blocksim-", StringComparison.Ordinal)
        || principal is KeyStoreVolumeKeys.DaemonPrincipal or SealedKeyStore.StorePrincipal;
}
