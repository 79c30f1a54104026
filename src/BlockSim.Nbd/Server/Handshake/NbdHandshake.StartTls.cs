using System.Security.Authentication;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Tls;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>NBD_OPT_STARTTLS: TLS laid over the socket in the middle of option haggling.</summary>
internal sealed partial class NbdHandshake
{
    private bool _tlsActive;

    /// <summary>
    /// On a listener that requires TLS, true when the option must be refused because TLS is not up yet:
    /// everything but STARTTLS and ABORT. Credentials that require client certificates require TLS on every
    /// connection, whatever its listener says (the server refuses such listeners; this holds even for a
    /// connection that came another way, such as an in-process pipe, where TLS cannot start at all).
    /// </summary>
    private bool NeedsTlsFirst(NbdOption option) =>
        (_tlsMode == NbdTlsMode.Require || _options.Tls is { RequireClientCertificate: true })
        && !_tlsActive && option is not (NbdOption.StartTls or NbdOption.Abort);

    private async ValueTask<OptionOutcome> StartTlsAsync(byte[] payload, CancellationToken ct)
    {
        var credentials = _options.Tls;
        if (_tlsMode == NbdTlsMode.Off || credentials is null || _transport.Stream is null)
        {
            ReplyError(NbdOption.StartTls, NbdOptionReplyType.ErrorPolicy, "TLS is not offered on this listener");
            return OptionOutcome.Continue;
        }

        if (payload.Length != 0)
        {
            ReplyError(NbdOption.StartTls, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_STARTTLS takes no payload");
            return OptionOutcome.Continue;
        }

        if (_tlsActive)
        {
            ReplyError(NbdOption.StartTls, NbdOptionReplyType.ErrorInvalid, "TLS is already active on this connection");
            return OptionOutcome.Continue;
        }

        if (credentials.Refresh() is { } problem)
        {
            ServerLog.TlsReloadFailed(_logger, problem);
        }

        Reply(NbdOption.StartTls, NbdOptionReplyType.Ack);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);

        // The client must wait for the ACK before its TLS hello; anything already here came too early and
        // would otherwise be read as plaintext options.
        var input = _transport.Input;
        if (input.TryRead(out var early))
        {
            var sentEarly = !early.Buffer.IsEmpty;
            input.AdvanceTo(early.Buffer.Start);
            if (sentEarly)
            {
                Violation("bytes sent after NBD_OPT_STARTTLS before its reply");
                return OptionOutcome.Closing;
            }
        }

        // TLS goes over the socket and owns it from here on.
        var tls = await _transport.LayTlsAsync().ConfigureAwait(false);
        var handshake = credentials.BeginHandshake();
        try
        {
            await tls.AuthenticateAsServerAsync(handshake.Options, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            ServerLog.TlsFailed(_logger, _connectionId, Identity.Address, e.Message);
            return OptionOutcome.Closing;
        }

        _tlsActive = true;
        Identity = Identity with { Name = handshake.Identity, Tls = true };
        ServerLog.TlsEstablished(_logger, _connectionId, tls.SslProtocol.ToString(), Identity.Name);
        _negotiated.ForgetClearText();
        return OptionOutcome.Continue;
    }
}
