namespace BlockSim.Nbd.Exports;

/// <summary>What an attach comes to: the export to serve the client, or why the client is refused.</summary>
public readonly record struct NbdAttachment
{
    private NbdAttachment(INbdExport? served, NbdRefusal? refusal)
    {
        Served = served;
        Refusal = refusal;
    }

    /// <summary>The export transmission runs against (null when refused).</summary>
    public INbdExport? Served { get; }

    /// <summary>Why the client is refused (null when attached).</summary>
    public NbdRefusal? Refusal { get; }

    public static NbdAttachment Serve(INbdExport export) => new(export ?? throw new ArgumentNullException(nameof(export)), null);

    public static NbdAttachment Refuse(NbdRefusal refusal) => new(null, refusal ?? throw new ArgumentNullException(nameof(refusal)));
}
