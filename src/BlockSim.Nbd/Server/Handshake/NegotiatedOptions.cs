using BlockSim.Nbd.Exports;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>
/// What the client has chosen so far during option haggling, before an export is attached. Options may
/// come in any order and SET_META_CONTEXT names an export of its own, so this only becomes a
/// <see cref="NbdSession"/> once GO or EXPORT_NAME settles the export.
/// </summary>
internal sealed class NegotiatedOptions
{
    public bool NoZeroes { get; set; }

    public bool StructuredReplies { get; set; }

    /// <summary>The export SET_META_CONTEXT selected base:allocation for; null when none is selected.</summary>
    public string? AllocationContextExport { get; private set; }

    /// <summary>SET_META_CONTEXT replaces any earlier selection.</summary>
    public void SelectAllocationContext(string? export) => AllocationContextExport = export;

    /// <summary>
    /// After STARTTLS: the protocol asks the server to forget what was negotiated in clear, since it may have
    /// been tampered with. NO_ZEROES came with the flags before any option and stays.
    /// </summary>
    public void ForgetClearText()
    {
        StructuredReplies = false;
        AllocationContextExport = null;
    }

    /// <summary>The session for <paramref name="export"/>: a context selected for another export does not carry over.</summary>
    public NbdSession SessionFor(INbdExport export, NbdClientIdentity identity) =>
        new(export, identity, StructuredReplies, NoZeroes, AllocationContext: AllocationContextExport == export.Name);
}
