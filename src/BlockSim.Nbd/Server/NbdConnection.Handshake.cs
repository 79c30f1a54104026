using System.Buffers.Binary;
using System.Text;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server;

/// <summary>Fixed-newstyle handshake and option haggling.</summary>
internal sealed partial class NbdConnection
{
    private const uint AllocationContextId = 1;

    private bool _noZeroes;
    private bool _structuredReplies;
    private string? _metaContextExport;   // the export SET_META_CONTEXT named; null when none is selected
    private bool _allocationSelected;

    /// <summary>True when the client chose an export and transmission starts; false to close.</summary>
    private async Task<bool> HandshakeAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_options.HandshakeTimeout);
        var ct = timeout.Token;

        // Blocking reads do not see the token; shutting the socket's receive side ends them.
        using var wake = _blockingSocket is null
            ? default
            : ct.UnsafeRegister(static state => ((NbdConnection)state!).ShutDownReceiving(), this);

        WriteGreeting();
        await _output.FlushAsync(ct).ConfigureAwait(false);

        var flagBytes = await ReadExactAsync(4, ct).ConfigureAwait(false);
        if (flagBytes is null)
        {
            return false;
        }

        var clientFlags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(flagBytes);
        const NbdClientFlags known = NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes;
        if ((clientFlags & ~known) != 0 || (clientFlags & NbdClientFlags.FixedNewstyle) == 0)
        {
            return Violation($"client flags 0x{(uint)clientFlags:x}: only fixed newstyle with optional NO_ZEROES is served");
        }

        _noZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;
        for (var count = 0; ; count++)
        {
            if (count >= _options.MaxOptions)
            {
                return Violation($"more than {_options.MaxOptions} options before choosing an export");
            }

            var header = await ReadExactAsync(16, ct).ConfigureAwait(false);
            if (header is null)
            {
                return false;
            }

            if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.IHaveOpt)
            {
                return Violation("option without the IHAVEOPT magic");
            }

            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
            if (length > _options.MaxOptionLength)
            {
                return Violation($"option {(uint)option} with a {length}-byte payload (limit {_options.MaxOptionLength})");
            }

            // Always read the whole payload before answering, so the stream stays in step.
            var payload = await ReadExactAsync((int)length, ct).ConfigureAwait(false);
            if (payload is null)
            {
                return false;
            }

            var outcome = await HandleOptionAsync(option, payload, ct).ConfigureAwait(false);
            await _output.FlushAsync(ct).ConfigureAwait(false);
            if (outcome != OptionOutcome.Continue)
            {
                return outcome == OptionOutcome.Transmit;
            }
        }
    }

    private enum OptionOutcome
    {
        Continue,
        Transmit,
        Close,
    }

    private ValueTask<OptionOutcome> HandleOptionAsync(NbdOption option, byte[] payload, CancellationToken ct)
    {
        if (NeedsTlsFirst(option))
        {
            if (option == NbdOption.ExportName)
            {
                Violation("NBD_OPT_EXPORT_NAME before STARTTLS on a listener that requires TLS (this option has no error reply)");
                return ValueTask.FromResult(OptionOutcome.Close);
            }

            ReplyError(option, NbdOptionReplyType.ErrorTlsRequired, "this listener requires TLS: send NBD_OPT_STARTTLS first");
            return ValueTask.FromResult(OptionOutcome.Continue);
        }

        switch (option)
        {
            case NbdOption.ExportName:
                return ExportNameAsync(payload, ct);
            case NbdOption.Abort:
                ReplyOption(option, NbdOptionReplyType.Ack);
                return ValueTask.FromResult(OptionOutcome.Close);
            case NbdOption.List:
                List(payload);
                break;
            case NbdOption.StartTls:
                return StartTlsAsync(payload, ct);
            case NbdOption.Info:
            case NbdOption.Go:
                return InfoOrGoAsync(option, payload, ct);
            case NbdOption.StructuredReply:
                if (payload.Length != 0)
                {
                    ReplyError(option, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_STRUCTURED_REPLY takes no payload");
                }
                else
                {
                    _structuredReplies = true;
                    ReplyOption(option, NbdOptionReplyType.Ack);
                }

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

    /// <summary>NBD_OPT_EXPORT_NAME: no error reply exists, so an unknown export closes the connection.</summary>
    private async ValueTask<OptionOutcome> ExportNameAsync(byte[] payload, CancellationToken ct)
    {
        var name = Encoding.UTF8.GetString(payload);
        if (payload.Length > NbdLimits.MaxString || !_exports.TryGet(name, out var export))
        {
            Violation($"NBD_OPT_EXPORT_NAME for unknown export '{Truncate(name)}' (this option has no error reply)");
            return OptionOutcome.Close;
        }

        if (await RefusalAsync(export, ct).ConfigureAwait(false) is not null)
        {
            Violation($"export '{export.Name}' refused (NBD_OPT_EXPORT_NAME has no error reply)");
            return OptionOutcome.Close;
        }

        var span = _output.GetSpan(10 + 124);
        BinaryPrimitives.WriteUInt64BigEndian(span, (ulong)export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(span[8..], (ushort)TransmissionFlags(export));
        var length = 10;
        if (!_noZeroes)
        {
            span.Slice(10, 124).Clear();
            length += 124;
        }

        _output.Advance(length);
        Attach(export);
        return OptionOutcome.Transmit;
    }

    private void List(byte[] payload)
    {
        if (payload.Length != 0)
        {
            ReplyError(NbdOption.List, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_LIST takes no payload");
            return;
        }

        // Only what this client may attach: the names of exports kept from it are not its business.
        foreach (var export in _exports.All.Where(e => _exports.IsAllowed(e.Name, Identity.Name)))
        {
            var name = Encoding.UTF8.GetBytes(export.Name);
            var description = Encoding.UTF8.GetBytes(export.Description ?? "");
            var data = new byte[4 + name.Length + description.Length];
            BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
            name.CopyTo(data, 4);
            description.CopyTo(data, 4 + name.Length);
            ReplyOption(NbdOption.List, NbdOptionReplyType.Server, data);
        }

        ReplyOption(NbdOption.List, NbdOptionReplyType.Ack);
    }

    /// <summary>NBD_OPT_INFO and NBD_OPT_GO: the same answer; GO then attaches the export and starts transmission.</summary>
    private async ValueTask<OptionOutcome> InfoOrGoAsync(NbdOption option, byte[] payload, CancellationToken ct)
    {
        if (!TryParseInfoRequest(payload, out var name, out var requests))
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "malformed NBD_OPT_INFO/GO payload");
            return OptionOutcome.Continue;
        }

        if (!_exports.TryGet(name, out var export))
        {
            ReplyError(option, NbdOptionReplyType.ErrorUnknown, $"there is no export named '{Truncate(name)}'");
            return OptionOutcome.Continue;
        }

        // INFO checks the allow list too (size and description are not for clients kept out), but only GO
        // attaches: for a volume that is a Decrypt in the key store, which INFO must not cause.
        var refusal = option == NbdOption.Go
            ? await RefusalAsync(export, ct).ConfigureAwait(false)
            : NotAllowed(export);
        if (refusal is not null)
        {
            if (option != NbdOption.Go)
            {
                RequestFailureLog.Of(export).Refused(_logger, Id, export.Name, refusal);
            }

            ReplyError(option, NbdOptionReplyType.ErrorPolicy, $"export '{export.Name}' is refused: {refusal.ClientMessage}");
            return OptionOutcome.Continue;
        }

        WriteInfoReplies(option, export, requests);
        ReplyOption(option, NbdOptionReplyType.Ack);
        if (option != NbdOption.Go)
        {
            return OptionOutcome.Continue;
        }

        Attach(export);
        return OptionOutcome.Transmit;
    }

    /// <summary>
    /// Checks the export's access list, then attaches an export that needs it (for a volume, the key store
    /// decides for this client); returns the refusal (its detail logged here), or null when it may be served.
    /// </summary>
    private async ValueTask<NbdRefusal?> RefusalAsync(INbdExport export, CancellationToken ct)
    {
        var refusal = NotAllowed(export)
            ?? (export is IAttachableExport attachable ? await attachable.AttachAsync(Identity, ct).ConfigureAwait(false) : null);
        if (refusal is not null)
        {
            RequestFailureLog.Of(export).Refused(_logger, Id, export.Name, refusal);
        }

        return refusal;
    }

    private NbdRefusal? NotAllowed(INbdExport export) => _exports.IsAllowed(export.Name, Identity.Name)
        ? null
        : NbdRefusal.Plain($"client '{Identity.Name}' is not on the export's list of allowed clients");

    private void WriteInfoReplies(NbdOption option, INbdExport export, HashSet<NbdInfoType> requests)
    {
        Span<byte> info = stackalloc byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info[2..], (ulong)export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(info[10..], (ushort)TransmissionFlags(export));
        ReplyOption(option, NbdOptionReplyType.Info, info[..12]);

        // Unknown info types are ignored, as the protocol asks; each known one is answered once.
        if (requests.Contains(NbdInfoType.Name))
        {
            var nameBytes = Encoding.UTF8.GetBytes(export.Name);
            var data = new byte[2 + nameBytes.Length];
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)NbdInfoType.Name);
            nameBytes.CopyTo(data, 2);
            ReplyOption(option, NbdOptionReplyType.Info, data);
        }

        if (requests.Contains(NbdInfoType.Description) && export.Description is { } description)
        {
            var text = Encoding.UTF8.GetBytes(description);
            var data = new byte[2 + text.Length];
            BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)NbdInfoType.Description);
            text.CopyTo(data, 2);
            ReplyOption(option, NbdOptionReplyType.Info, data);
        }

        if (requests.Contains(NbdInfoType.BlockSize))
        {
            Span<byte> sizes = stackalloc byte[14];
            BinaryPrimitives.WriteUInt16BigEndian(sizes, (ushort)NbdInfoType.BlockSize);
            BinaryPrimitives.WriteUInt32BigEndian(sizes[2..], (uint)export.MinimumBlockSize);
            BinaryPrimitives.WriteUInt32BigEndian(sizes[6..], (uint)export.PreferredBlockSize);
            BinaryPrimitives.WriteUInt32BigEndian(sizes[10..], NbdLimits.MaxPayload);
            ReplyOption(option, NbdOptionReplyType.Info, sizes);
        }
    }

    private static bool TryParseInfoRequest(byte[] payload, out string name, out HashSet<NbdInfoType> requests)
    {
        name = "";
        requests = [];
        if (payload.Length < 6)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (nameLength > NbdLimits.MaxString || 4 + nameLength + 2 > payload.Length)
        {
            return false;
        }

        name = Encoding.UTF8.GetString(payload, 4, (int)nameLength);
        var at = 4 + (int)nameLength;
        var count = BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(at));
        at += 2;
        if (payload.Length != at + (2 * count))
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            requests.Add((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(at + (2 * i))));
        }

        return true;
    }

    /// <summary>LIST_META_CONTEXT and SET_META_CONTEXT; the only context served is base:allocation.</summary>
    private void MetaContext(NbdOption option, byte[] payload)
    {
        if (option == NbdOption.SetMetaContext && !_structuredReplies)
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_SET_META_CONTEXT needs structured replies first");
            return;
        }

        if (!TryParseMetaContextRequest(payload, out var name, out var queries))
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "malformed meta context request");
            return;
        }

        if (!_exports.TryGet(name, out _))
        {
            ReplyError(option, NbdOptionReplyType.ErrorUnknown, $"there is no export named '{Truncate(name)}'");
            return;
        }

        var list = option == NbdOption.ListMetaContext;
        var matches = queries.Count == 0
            ? list
            : queries.Any(q => q == NbdLimits.AllocationContext || (list && q == "base:"));
        if (!list)
        {
            // SET replaces any earlier selection, for this export name.
            _allocationSelected = matches;
            _metaContextExport = matches ? (name.Length == 0 ? _exports.DefaultName : name) : null;
        }

        if (matches)
        {
            var context = Encoding.UTF8.GetBytes(NbdLimits.AllocationContext);
            var data = new byte[4 + context.Length];
            BinaryPrimitives.WriteUInt32BigEndian(data, AllocationContextId);
            context.CopyTo(data, 4);
            ReplyOption(option, NbdOptionReplyType.MetaContext, data);
        }

        ReplyOption(option, NbdOptionReplyType.Ack);
    }

    private static bool TryParseMetaContextRequest(byte[] payload, out string name, out List<string> queries)
    {
        name = "";
        queries = [];
        var span = payload.AsSpan();
        if (span.Length < 8)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(span);
        if (nameLength > NbdLimits.MaxString || 4 + nameLength + 4 > span.Length)
        {
            return false;
        }

        name = Encoding.UTF8.GetString(span.Slice(4, (int)nameLength));
        span = span[(4 + (int)nameLength)..];
        var count = BinaryPrimitives.ReadUInt32BigEndian(span);
        span = span[4..];
        for (var i = 0; i < count; i++)
        {
            if (span.Length < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(span);
            if (length > NbdLimits.MaxString || length > span.Length - 4)
            {
                return false;
            }

            queries.Add(Encoding.UTF8.GetString(span.Slice(4, (int)length)));
            span = span[(4 + (int)length)..];
        }

        return span.IsEmpty;
    }

    private void Attach(INbdExport export)
    {
        Export = export;
        var sameExport = _metaContextExport == export.Name;
        _allocationSelected &= sameExport;
        ServerLog.Attached(_logger, Id, export.Name, export.Size, _structuredReplies);
    }

    private NbdTransmissionFlags TransmissionFlags(INbdExport export)
    {
        var flags = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendCache
            | NbdTransmissionFlags.SendFastZero;
        if (export.IsReadOnly)
        {
            flags |= NbdTransmissionFlags.ReadOnly;
        }

        if (export.CanMultiConn)
        {
            flags |= NbdTransmissionFlags.CanMultiConn;
        }

        // DF only means something when READ answers come in structured chunks.
        if (_structuredReplies)
        {
            flags |= NbdTransmissionFlags.SendDf;
        }

        return flags;
    }

    private void WriteGreeting()
    {
        var span = _output.GetSpan(18);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.Init);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(span[16..], (ushort)(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
        _output.Advance(18);
    }

    private void ReplyOption(NbdOption option, NbdOptionReplyType type, ReadOnlySpan<byte> data = default)
    {
        var span = _output.GetSpan(20 + data.Length);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)data.Length);
        data.CopyTo(span[20..]);
        _output.Advance(20 + data.Length);
        ServerLog.OptionAnswered(_logger, Id, (uint)option, type.ToString());
    }

    /// <summary>An error reply; the message is for people and travels as the reply's data.</summary>
    private void ReplyError(NbdOption option, NbdOptionReplyType type, string message) =>
        ReplyOption(option, type, Encoding.UTF8.GetBytes(message));

    /// <summary>Logs why the connection is being closed; returns false so callers can <c>return Violation(...)</c>.</summary>
    private bool Violation(string reason)
    {
        ServerLog.ProtocolViolation(_logger, Id, reason);
        return false;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
