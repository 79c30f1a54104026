using System.Text;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>The options that name exports: LIST, INFO, and the two that attach one, GO and EXPORT_NAME.</summary>
internal sealed partial class NbdHandshake
{
    /// <summary>NBD_OPT_EXPORT_NAME: no error reply exists, so an unknown export closes the connection.</summary>
    private async ValueTask<OptionOutcome> ExportNameAsync(byte[] payload, CancellationToken ct)
    {
        var name = Encoding.UTF8.GetString(payload);
        if (payload.Length > NbdLimits.MaxString || !_exports.TryGet(name, out var export))
        {
            Violation($"NBD_OPT_EXPORT_NAME for unknown export '{Truncate(name)}' (this option has no error reply)");
            return OptionOutcome.Closing;
        }

        var served = _exports.DownFor(export.Name) is null ? (await AttachAsync(export, ct).ConfigureAwait(false)).Served : null;
        if (served is null)
        {
            Violation($"export '{export.Name}' refused (NBD_OPT_EXPORT_NAME has no error reply)");
            return OptionOutcome.Closing;
        }

        var output = _transport.Output;
        var span = output.GetSpan(NbdOptionReplies.SizeOfExportName(_negotiated.NoZeroes));
        output.Advance(NbdOptionReplies.WriteExportName(span, (ulong)served.Size, TransmissionFlags(served), _negotiated.NoZeroes));
        return Attach(served);
    }

    private void List(byte[] payload)
    {
        if (payload.Length != 0)
        {
            ReplyError(NbdOption.List, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_LIST takes no payload");
            return;
        }

        // Only what this client may attach: the names of exports kept from it are not its business.
        var output = _transport.Output;
        foreach (var export in _exports.All.Where(e => _exports.IsAllowed(e.Name, Identity.Name)))
        {
            var name = Encoding.UTF8.GetBytes(export.Name);
            var description = Encoding.UTF8.GetBytes(export.Description ?? "");
            output.Advance(NbdOptionReplies.WriteServer(output.GetSpan(NbdOptionReplies.SizeOfServer(name.Length, description.Length)), name, description));
            Answered(NbdOption.List, NbdOptionReplyType.Server);
        }

        Reply(NbdOption.List, NbdOptionReplyType.Ack);
    }

    /// <summary>NBD_OPT_INFO and NBD_OPT_GO: the same answer; GO then attaches the export and starts transmission.</summary>
    private async ValueTask<OptionOutcome> InfoOrGoAsync(NbdOption option, byte[] payload, CancellationToken ct)
    {
        if (!NbdInfoRequest.TryParse(payload, out var request))
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "malformed NBD_OPT_INFO/GO payload");
            return OptionOutcome.Continue;
        }

        if (!_exports.TryGet(request.Name, out var export))
        {
            ReplyError(option, NbdOptionReplyType.ErrorUnknown, $"there is no export named '{Truncate(request.Name)}'");
            return OptionOutcome.Continue;
        }

        if (_exports.DownFor(export.Name) is { } down)
        {
            ReplyError(option, NbdOptionReplyType.ErrorShutdown, $"export '{export.Name}' is down (simulated) for {Math.Ceiling(down.TotalSeconds)} s more");
            return OptionOutcome.Continue;
        }

        // INFO checks the allow list too (size and description are not for clients kept out), but only GO
        // attaches: for a volume that is a Decrypt in the key store, which INFO must not cause.
        if (option == NbdOption.Go)
        {
            var attachment = await AttachAsync(export, ct).ConfigureAwait(false);
            if (attachment.Served is not { } served)
            {
                RefusalReply(option, export, attachment.Refusal!);
                return OptionOutcome.Continue;
            }

            WriteInfoReplies(option, served, request.Requested);
            Reply(option, NbdOptionReplyType.Ack);
            return Attach(served);
        }

        if (NotAllowed(export) is { } refusal)
        {
            RequestFailureLog.Of(export).Refused(_logger, _connectionId, export.Name, refusal);
            RefusalReply(option, export, refusal);
            return OptionOutcome.Continue;
        }

        WriteInfoReplies(option, export, request.Requested);
        Reply(option, NbdOptionReplyType.Ack);
        return OptionOutcome.Continue;
    }

    /// <summary>
    /// Checks the export's access list, then attaches it for this client (for a volume, the key store
    /// decides): the export to serve, or the refusal, its detail logged here.
    /// </summary>
    private async ValueTask<NbdAttachment> AttachAsync(INbdExportInfo export, CancellationToken ct)
    {
        var attachment = NotAllowed(export) is { } refusal
            ? NbdAttachment.Refuse(refusal)
            : export is IAttachableExport attachable
                ? await attachable.AttachAsync(Identity, ct).ConfigureAwait(false)
                : NbdAttachment.Serve((INbdExport)export); // the registry holds nothing else
        if (attachment.Refusal is { } refused)
        {
            RequestFailureLog.Of(export).Refused(_logger, _connectionId, export.Name, refused);
        }

        return attachment;
    }

    private void RefusalReply(NbdOption option, INbdExportInfo export, NbdRefusal refusal) =>
        ReplyError(option, NbdOptionReplyType.ErrorPolicy, $"export '{export.Name}' is refused: {refusal.ClientMessage}");

    private NbdRefusal? NotAllowed(INbdExportInfo export) => _exports.IsAllowed(export.Name, Identity.Name)
        ? null
        : NbdRefusal.Plain($"client '{Identity.Name}' is not on the export's list of allowed clients");

    private void WriteInfoReplies(NbdOption option, INbdExportInfo export, IReadOnlySet<NbdInfoType> requested)
    {
        var output = _transport.Output;
        output.Advance(NbdOptionReplies.WriteInfoExport(output.GetSpan(NbdOptionReplies.InfoExportSize), option, (ulong)export.Size, TransmissionFlags(export)));
        Answered(option, NbdOptionReplyType.Info);

        // Unknown info types are ignored, as the protocol asks; each known one is answered once.
        if (requested.Contains(NbdInfoType.Name))
        {
            InfoText(option, NbdInfoType.Name, export.Name);
        }

        if (requested.Contains(NbdInfoType.Description) && export.Description is { } description)
        {
            InfoText(option, NbdInfoType.Description, description);
        }

        if (requested.Contains(NbdInfoType.BlockSize))
        {
            var span = output.GetSpan(NbdOptionReplies.InfoBlockSizeSize);
            output.Advance(NbdOptionReplies.WriteInfoBlockSize(span, option, (uint)export.MinimumBlockSize, (uint)export.PreferredBlockSize, NbdLimits.MaxPayload));
            Answered(option, NbdOptionReplyType.Info);
        }
    }

    private void InfoText(NbdOption option, NbdInfoType type, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var output = _transport.Output;
        output.Advance(NbdOptionReplies.WriteInfoText(output.GetSpan(NbdOptionReplies.SizeOfInfoText(bytes.Length)), option, type, bytes));
        Answered(option, NbdOptionReplyType.Info);
    }

    /// <summary>The export is chosen: what was negotiated becomes the session transmission runs under.</summary>
    private OptionOutcome Attach(INbdExport export)
    {
        var session = _negotiated.SessionFor(export, Identity);
        ServerLog.Attached(_logger, _connectionId, Identity.ToString(), export.Name, export.Size, session.StructuredReplies);
        return OptionOutcome.Transmit(session);
    }

    /// <summary>
    /// Advertise only what the export's device stack does (TRIM and FAST_ZERO as its layers declare), and DF
    /// only with structured replies, where READ comes in chunks.
    /// </summary>
    private NbdTransmissionFlags TransmissionFlags(INbdExportInfo export)
    {
        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendCache;
        if (export.CanTrim)
        {
            flags |= NbdTransmissionFlags.SendTrim;
        }

        if (export.CanFastZero)
        {
            flags |= NbdTransmissionFlags.SendFastZero;
        }

        if (export.IsReadOnly)
        {
            flags |= NbdTransmissionFlags.ReadOnly;
        }

        if (export.CanMultiConn)
        {
            flags |= NbdTransmissionFlags.CanMultiConn;
        }

        if (export.IsRotational)
        {
            flags |= NbdTransmissionFlags.Rotational;
        }

        if (_negotiated.StructuredReplies)
        {
            flags |= NbdTransmissionFlags.SendDf;
        }

        return flags;
    }
}
