namespace BlockSim.Nbd.Exports;

/// <summary>
/// An export that must be attached before it can serve (an encrypted volume whose key is fetched from a
/// key service). The server calls <see cref="AttachAsync"/> when a client chooses the export with GO or
/// EXPORT_NAME; a refusal reaches the client as NBD_REP_ERR_POLICY (or a closed connection for EXPORT_NAME,
/// which has no error reply), and other exports are unaffected.
/// </summary>
public interface IAttachableExport : INbdExport
{
    /// <summary>Returns null when the export is ready, else the reason it is refused (for the client and the log).</summary>
    ValueTask<string?> AttachAsync(string client, CancellationToken cancellationToken);
}
