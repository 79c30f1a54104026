namespace BlockSim.Nbd.Exports;

/// <summary>
/// An export that must be attached before it can serve (an encrypted volume whose key is fetched from a
/// key service). The server calls <see cref="AttachAsync"/> when a client chooses the export with GO or
/// EXPORT_NAME and serves what it returns; a refusal reaches the client as NBD_REP_ERR_POLICY (or a closed
/// connection for EXPORT_NAME, which has no error reply), and other exports are unaffected.
/// </summary>
public interface IAttachableExport : INbdExportInfo
{
    /// <summary>
    /// Called for every client that chooses the export, so the decision can depend on who the client is.
    /// Returns the export to serve this client, or why it is refused: a message the client may read, and
    /// the detail for the server log.
    /// </summary>
    ValueTask<NbdAttachment> AttachAsync(NbdClientIdentity client, CancellationToken cancellationToken);
}
