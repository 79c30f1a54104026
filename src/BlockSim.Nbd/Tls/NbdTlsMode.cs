namespace BlockSim.Nbd.Tls;

/// <summary>What a listener does about NBD_OPT_STARTTLS.</summary>
public enum NbdTlsMode
{
    /// <summary>STARTTLS is answered ERR_POLICY; everything travels in clear.</summary>
    Off,

    /// <summary>Clients may upgrade with STARTTLS; plaintext clients are served too.</summary>
    On,

    /// <summary>
    /// Every option but STARTTLS and ABORT is answered ERR_TLS_REQD until TLS is up, and EXPORT_NAME (which
    /// has no error reply) closes the connection, so no export is attached and no block moves in clear.
    /// </summary>
    Require,
}
