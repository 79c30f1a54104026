using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip;

/// <summary>
/// The envelope of one KMIP 1.2 exchange (1.4 where authenticated encryption needs it): a Request Message
/// with a header (protocol version, batch count 1) and one batch item; a Response Message whose one batch item carries the result and the payload.
/// </summary>
public static class KmipMessages
{
    public const int ProtocolMajor = 1;
    public const int ProtocolMinor = 2;

    /// <summary>KMIP 1.4, the first version with authenticated encryption's additional data and tag (sent only for those).</summary>
    public const int AeadProtocolMinor = 4;

    public static TtlvItem Request(KmipOperation operation, TtlvItem payload, int minor = ProtocolMinor) =>
        TtlvItem.Structure(
            Tag.RequestMessage,
            TtlvItem.Structure(
                Tag.RequestHeader,
                TtlvItem.Structure(Tag.ProtocolVersion, TtlvItem.Integer(Tag.ProtocolVersionMajor, ProtocolMajor), TtlvItem.Integer(Tag.ProtocolVersionMinor, minor)),
                TtlvItem.Integer(Tag.BatchCount, 1)),
            TtlvItem.Structure(Tag.BatchItem, TtlvItem.Enumeration(Tag.Operation, (uint)operation), payload));

    /// <summary>
    /// The payload of a successful answer to <paramref name="operation"/> (an empty structure when the server
    /// sent none); Operation Failed becomes a <see cref="KmipOperationException"/> with its reason and message.
    /// </summary>
    public static TtlvItem ResponsePayload(TtlvItem response, KmipOperation operation)
    {
        if (response.Tag != Tag.ResponseMessage || response.Type != TtlvType.Structure)
        {
            throw new KmipProtocolException($"The server answered with {response}, not a Response Message.");
        }

        var header = response.Get(Tag.ResponseHeader, TtlvType.Structure);
        var version = header.Get(Tag.ProtocolVersion, TtlvType.Structure);
        if (version.Get(Tag.ProtocolVersionMajor, TtlvType.Integer).Number != ProtocolMajor)
        {
            throw new KmipProtocolException($"The server answered in KMIP {version.Get(Tag.ProtocolVersionMajor).Number}.{version.Find(Tag.ProtocolVersionMinor)?.Number}, not 1.x.");
        }

        var items = response.Items.Where(i => i.Tag == Tag.BatchItem).ToList();
        if (items.Count != 1 || items[0].Type != TtlvType.Structure)
        {
            throw new KmipProtocolException($"The server answered with {items.Count} batch items to a request of one.");
        }

        var item = items[0];
        if (item.Find(Tag.Operation) is { } answered && answered.Number != (uint)operation)
        {
            throw new KmipProtocolException($"The server answered operation {answered.Number} to a {operation} request.");
        }

        var status = (KmipResultStatus)item.Get(Tag.ResultStatus, TtlvType.Enumeration).Number;
        if (status != KmipResultStatus.Success)
        {
            var reason = item.Find(Tag.ResultReason) is { Type: TtlvType.Enumeration } r ? (KmipResultReason?)(uint)r.Number : null;
            var message = item.Find(Tag.ResultMessage) is { Type: TtlvType.TextString } m ? m.Text() : null;
            if (status != KmipResultStatus.OperationFailed)
            {
                throw new KmipProtocolException($"The server answered {operation} with status {status}, which this client does not take (it sends no asynchronous requests).");
            }

            throw new KmipOperationException(operation, reason, message);
        }

        return item.Find(Tag.ResponsePayload) is { Type: TtlvType.Structure } payload ? payload : TtlvItem.Structure(Tag.ResponsePayload);
    }
}
