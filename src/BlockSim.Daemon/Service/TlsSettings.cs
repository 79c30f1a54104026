using BlockSim.Nbd.Tls;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The <c>tls</c> section: the server certificate and key (PEM), optionally a CA bundle that client
/// certificates are verified against, and the mode every listener gets unless it names its own
/// (<c>ADDR:PORT,tls=off|on|require</c>). <see cref="Directory"/> is a shortcut for the layout
/// <c>blocksim tls init</c> writes: server-cert.pem, server-key.pem and, when present, ca-cert.pem.
/// </summary>
internal sealed class TlsSettings
{
    public string? Directory { get; set; }

    public string? Certificate { get; set; }

    public string? Key { get; set; }

    /// <summary>CA bundle for client certificates; clients are asked for one only when this is set.</summary>
    public string? ClientCa { get; set; }

    /// <summary>Refuse clients without a verified certificate (needs <see cref="ClientCa"/>).</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>off, on or require; default require once a certificate is configured, off otherwise.</summary>
    public string? Mode { get; set; }

    public bool IsConfigured => Directory is not null || Certificate is not null || Key is not null;

    /// <summary>The mode for listeners that do not name one.</summary>
    public NbdTlsMode DefaultMode => Mode is null
        ? (IsConfigured ? NbdTlsMode.Require : NbdTlsMode.Off)
        : ParseMode(Mode, "tls.mode");

    public void ResolveRelativeTo(string directory)
    {
        Directory = Resolve(Directory);
        Certificate = Resolve(Certificate);
        Key = Resolve(Key);
        ClientCa = Resolve(ClientCa);

        string? Resolve(string? path) => path is null ? null : Path.Combine(directory, path);
    }

    /// <summary>Loads the credentials, or null when TLS is not configured; a problem says which file and why.</summary>
    public TlsCredentials? Load()
    {
        if (!IsConfigured)
        {
            return null;
        }

        var certificate = Certificate ?? (Directory is null ? null : Path.Combine(Directory, "server-cert.pem"));
        var key = Key ?? (Directory is null ? null : Path.Combine(Directory, "server-key.pem"));
        var clientCa = ClientCa;
        if (clientCa is null && Directory is not null && File.Exists(Path.Combine(Directory, "ca-cert.pem")))
        {
            clientCa = Path.Combine(Directory, "ca-cert.pem");
        }

        if (certificate is null || key is null)
        {
            throw new ConfigurationProblem("tls: give both a certificate and its key (or a directory holding server-cert.pem and server-key.pem, as 'blocksim tls init' writes).");
        }

        try
        {
            return new TlsCredentials(certificate, key, clientCa, RequireClientCertificate);
        }
        catch (TlsCredentialsException e)
        {
            throw new ConfigurationProblem($"tls: {e.Message}");
        }
    }

    /// <summary>Splits <c>WHERE[,tls=MODE]</c> into the address and the listener's mode.</summary>
    public (string Where, NbdTlsMode Mode) ParseListener(string text)
    {
        var comma = text.LastIndexOf(",tls=", StringComparison.Ordinal);
        return comma < 0
            ? (text, DefaultMode)
            : (text[..comma], ParseMode(text[(comma + 5)..], text));
    }

    private static NbdTlsMode ParseMode(string text, string where) => text switch
    {
        "off" => NbdTlsMode.Off,
        "on" => NbdTlsMode.On,
        "require" => NbdTlsMode.Require,
        _ => throw new ConfigurationProblem($"{where}: the TLS mode is off, on or require (not '{text}')."),
    };
}
