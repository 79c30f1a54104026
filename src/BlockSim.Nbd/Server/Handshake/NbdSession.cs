using BlockSim.Nbd.Exports;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>
/// What the handshake settled, fixed for the rest of the connection: the export attached, who the client
/// is, and how it asked to be answered. The transmission phase only reads it.
/// </summary>
/// <param name="StructuredReplies">NBD_OPT_STRUCTURED_REPLY was acknowledged: READ and BLOCK_STATUS answer in chunks.</param>
/// <param name="NoZeroes">The client set C_NO_ZEROES (only NBD_OPT_EXPORT_NAME's answer differs).</param>
/// <param name="AllocationContext">base:allocation was selected for this export: BLOCK_STATUS may be asked.</param>
internal sealed record NbdSession(
    INbdExport Export,
    NbdClientIdentity Identity,
    bool StructuredReplies,
    bool NoZeroes,
    bool AllocationContext)
{
    /// <summary>The id base:allocation has in block status replies: the only context served, so always 1.</summary>
    public const uint AllocationContextId = 1;
}
