using BlockSim.Nbd.Exports;
using System.Buffers;
using System.Text;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server.Transport;
using BlockSim.Nbd.Tls;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>
/// The fixed-newstyle handshake of one connection: the greeting, the client's flags, then option haggling
/// (STARTTLS included, <c>NbdHandshake.StartTls.cs</c>) until the client attaches an export
/// (<c>NbdHandshake.Export.cs</c>), gives up, or breaks the protocol. Its result is the <see cref="NbdSession"/>
/// that the transmission phase runs under, or null when the connection is to close. The wire format is
/// read and written by the pure functions in <c>Protocol/</c>; this type only decides.
/// </summary>
internal sealed partial class NbdHandshake
{
    private readonly ConnectionTransport _transport;
    private readonly ExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly long _connectionId;
    private readonly NbdTlsMode _tlsMode;
    private readonly NegotiatedOptions _negotiated = new();

    public NbdHandshake(ConnectionTransport transport, ExportRegistry exports, NbdServerOptions options, ILogger logger, NbdClientIdentity identity, NbdTlsMode tlsMode)
    {
        _transport = transport;
        _exports = exports;
        _options = options;
        _logger = logger;
        _connectionId = identity.ConnectionId;
        _tlsMode = transport.Stream is null ? NbdTlsMode.Off : tlsMode;
        Identity = identity;
    }

    /// <summary>Who the client is: anonymous until a TLS handshake verifies its certificate.</summary>
    public NbdClientIdentity Identity { get; private set; }

    /// <summary>
    /// Runs the handshake to its end: the session when the client chose an export and transmission starts,
    /// null to close. Gives up after <see cref="NbdServerOptions.HandshakeTimeout"/> or when <paramref name="stop"/> is cancelled.
    /// </summary>
    public async Task<NbdSession?> RunAsync(CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var ct = timeout.Token;

        // Blocking reads do not see the token; shutting the socket's receive side ends them.
        using var wake = _transport.BlockingSocket is null
            ? default
            : ct.UnsafeRegister(static state => ((ConnectionTransport)state!).ShutDownReceiving(), _transport);

        NbdGreeting.Write(_transport.Output.GetSpan(NbdGreeting.Size));
        _transport.Output.Advance(NbdGreeting.Size);
        await _transport.Output.FlushAsync(ct).ConfigureAwait(false);

        var (flagStatus, clientFlags) = await _transport.ReadAsync<NbdClientFlags>(NbdGreeting.TryReadClientFlags, ct).ConfigureAwait(false);
        if (flagStatus != OperationStatus.Done)
        {
            return null;
        }

        if (!NbdGreeting.AreServable(clientFlags))
        {
            return Violation($"client flags 0x{(uint)clientFlags:x}: only fixed newstyle with optional NO_ZEROES is served");
        }

        _negotiated.NoZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;
        for (var count = 0; ; count++)
        {
            if (count >= _options.MaxOptions)
            {
                return Violation($"more than {_options.MaxOptions} options before choosing an export");
            }

            var (status, header) = await _transport.ReadAsync<NbdOptionHeader>(NbdOptionHeader.TryRead, ct).ConfigureAwait(false);
            if (status == OperationStatus.InvalidData)
            {
                return Violation("option without the IHAVEOPT magic");
            }

            if (status != OperationStatus.Done)
            {
                return null;
            }

            if (header.Length > _options.MaxOptionLength)
            {
                return Violation($"option {(uint)header.Option} with a {header.Length}-byte payload (limit {_options.MaxOptionLength})");
            }

            // Always read the whole payload before answering, so the stream stays in step.
            var payload = await _transport.ReadExactAsync((int)header.Length, ct).ConfigureAwait(false);
            if (payload is null)
            {
                return null;
            }

            var outcome = await HandleOptionAsync(header.Option, payload, ct).ConfigureAwait(false);
            await _transport.Output.FlushAsync(ct).ConfigureAwait(false);
            if (outcome.Close)
            {
                return null;
            }

            if (outcome.Session is { } session)
            {
                return session;
            }
        }
    }

    /// <summary>What an option leads to: more haggling (neither set), transmission under a session, or closing.</summary>
    private readonly record struct OptionOutcome(NbdSession? Session, bool Close)
    {
        public static readonly OptionOutcome Continue = default;
        public static readonly OptionOutcome Closing = new(null, Close: true);

        public static OptionOutcome Transmit(NbdSession session) => new(session, Close: false);
    }

    private ValueTask<OptionOutcome> HandleOptionAsync(NbdOption option, byte[] payload, CancellationToken ct)
    {
        if (NeedsTlsFirst(option))
        {
            if (option == NbdOption.ExportName)
            {
                Violation("NBD_OPT_EXPORT_NAME before STARTTLS on a listener that requires TLS (this option has no error reply)");
                return ValueTask.FromResult(OptionOutcome.Closing);
            }

            ReplyError(option, NbdOptionReplyType.ErrorTlsRequired, "this listener requires TLS: send NBD_OPT_STARTTLS first");
            return ValueTask.FromResult(OptionOutcome.Continue);
        }

        switch (option)
        {
            case NbdOption.ExportName:
                return ExportNameAsync(payload, ct);
            case NbdOption.Abort:
                Reply(option, NbdOptionReplyType.Ack);
                return ValueTask.FromResult(OptionOutcome.Closing);
            case NbdOption.List:
                List(payload);
                break;
            case NbdOption.StartTls:
                return StartTlsAsync(payload, ct);
            case NbdOption.Info:
            case NbdOption.Go:
                return InfoOrGoAsync(option, payload, ct);
            case NbdOption.StructuredReply:
                StructuredReply(payload);
                break;
            case NbdOption.ListMetaContext:
            case NbdOption.SetMetaContext:
                MetaContext(option, payload);
                break;
            default:
                ReplyError(option, NbdOptionReplyType.ErrorUnsupported, $"option {(uint)option} is not supported");
                break;
        }

        return ValueTask.FromResult(OptionOutcome.Continue);
    }

    private void StructuredReply(byte[] payload)
    {
        if (payload.Length != 0)
        {
            ReplyError(NbdOption.StructuredReply, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_STRUCTURED_REPLY takes no payload");
            return;
        }

        _negotiated.StructuredReplies = true;
        Reply(NbdOption.StructuredReply, NbdOptionReplyType.Ack);
    }

    /// <summary>A reply without data, or with data as given (ACK, SERVER, INFO...).</summary>
    private void Reply(NbdOption option, NbdOptionReplyType type, ReadOnlySpan<byte> data = default)
    {
        var output = _transport.Output;
        output.Advance(NbdOptionReplies.Write(output.GetSpan(NbdOptionReplies.SizeOf(data.Length)), option, type, data));
        Answered(option, type);
    }

    /// <summary>An error reply; the message is for people and travels as the reply's data.</summary>
    private void ReplyError(NbdOption option, NbdOptionReplyType type, string message) =>
        Reply(option, type, Encoding.UTF8.GetBytes(message));

    private void Answered(NbdOption option, NbdOptionReplyType type) =>
        ServerLog.OptionAnswered(_logger, _connectionId, (uint)option, type.ToString());

    /// <summary>Logs why the connection is being closed; returns null so callers can <c>return Violation(...)</c>.</summary>
    private NbdSession? Violation(string reason)
    {
        ServerLog.ProtocolViolation(_logger, _connectionId, reason);
        return null;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
