using System.Net.Security;

namespace BlockSim.Nbd.Client;

public sealed class NbdClientOptions
{
    /// <summary>The export to attach; empty means the server's default.</summary>
    public string ExportName { get; set; } = "";

    /// <summary>Negotiate structured replies (needed for BLOCK_STATUS and DF).</summary>
    public bool StructuredReplies { get; set; } = true;

    /// <summary>Select the base:allocation meta context (needs structured replies).</summary>
    public bool AllocationContext { get; set; } = true;

    /// <summary>
    /// Upgrade to TLS with NBD_OPT_STARTTLS before anything else (the target host name and, for a client
    /// certificate, <see cref="SslClientAuthenticationOptions.ClientCertificates"/>); a server that refuses
    /// fails the connection rather than falling back to plaintext.
    /// </summary>
    public SslClientAuthenticationOptions? Tls { get; set; }
}
