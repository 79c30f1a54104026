using BlockSim.Kmip;
using BlockSim.Kmip.Ttlv;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// A KMIP server's answer, as the client reads it off the wire. Checked: bytes are either refused with a
/// <see cref="TtlvFormatException"/> (with a reason) or decoded; what decodes encodes back to the same bytes
/// (the codec is strict, so there is one encoding) and its header announces its length; read as a response
/// it gives a payload, or fails with a KMIP protocol or operation error, never anything else.
/// </summary>
internal sealed class KmipTtlvTarget : IFuzzTarget
{
    public string Name => "kmip-ttlv";

    public string Description => "KMIP responses (TTLV); decode-encode identity, the header's length, response reading fails only with KMIP errors";

    public void Run(ReadOnlySpan<byte> input)
    {
        TtlvItem item;
        try
        {
            item = TtlvDecoder.Decode(input);
        }
        catch (TtlvFormatException e)
        {
            if (string.IsNullOrWhiteSpace(e.Message))
            {
                throw new FuzzFinding("TTLV was refused without a reason");
            }

            return;
        }

        if (!TtlvEncoder.Encode(item).AsSpan().SequenceEqual(input))
        {
            throw new FuzzFinding("a decoded item does not encode back to the same bytes");
        }

        if (TtlvDecoder.ItemLength(input) != input.Length)
        {
            throw new FuzzFinding("the header's length is not the item's");
        }

        foreach (var operation in Enum.GetValues<KmipOperation>())
        {
            try
            {
                var payload = KmipMessages.ResponsePayload(item, operation);
                Read(payload);
            }
            catch (Exception e) when (e is KmipProtocolException or KmipOperationException)
            {
                // refused as the client refuses it
            }
        }
    }

    /// <summary>What the client takes from payloads: identifiers, data, the State attribute.</summary>
    private static void Read(TtlvItem payload)
    {
        _ = payload.Find(Tag.UniqueIdentifier) is { Type: TtlvType.TextString } id ? id.Text() : null;
        _ = payload.Find(Tag.Data)?.Bytes;
        _ = KmipClient.StateIn(payload);
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return ("create", TtlvEncoder.Encode(Response(KmipOperation.Create, TtlvItem.Structure(Tag.ResponsePayload, TtlvItem.Enumeration(Tag.ObjectType, 2), TtlvItem.Text(Tag.UniqueIdentifier, "7")))));
        yield return ("decrypt", TtlvEncoder.Encode(Response(KmipOperation.Decrypt, TtlvItem.Structure(Tag.ResponsePayload, TtlvItem.Text(Tag.UniqueIdentifier, "7"), TtlvItem.ByteString(Tag.Data, new byte[32])))));
        yield return ("state", TtlvEncoder.Encode(Response(KmipOperation.GetAttributes, TtlvItem.Structure(
            Tag.ResponsePayload,
            TtlvItem.Text(Tag.UniqueIdentifier, "7"),
            TtlvItem.Structure(Tag.Attribute, TtlvItem.Text(Tag.AttributeName, "State"), TtlvItem.Enumeration(Tag.AttributeValue, 2))))));
        yield return ("failed", TtlvEncoder.Encode(TtlvItem.Structure(
            Tag.ResponseMessage,
            Header(),
            TtlvItem.Structure(
                Tag.BatchItem,
                TtlvItem.Enumeration(Tag.Operation, (uint)KmipOperation.Decrypt),
                TtlvItem.Enumeration(Tag.ResultStatus, (uint)KmipResultStatus.OperationFailed),
                TtlvItem.Enumeration(Tag.ResultReason, (uint)KmipResultReason.PermissionDenied),
                TtlvItem.Text(Tag.ResultMessage, "Could not locate object: 7")))));
    }

    private static TtlvItem Header() => TtlvItem.Structure(
        Tag.ResponseHeader,
        TtlvItem.Structure(Tag.ProtocolVersion, TtlvItem.Integer(Tag.ProtocolVersionMajor, 1), TtlvItem.Integer(Tag.ProtocolVersionMinor, 2)),
        TtlvItem.DateTime(Tag.TimeStamp, DateTimeOffset.FromUnixTimeSeconds(1_796_683_583)),
        TtlvItem.Integer(Tag.BatchCount, 1));

    private static TtlvItem Response(KmipOperation operation, TtlvItem payload) => TtlvItem.Structure(
        Tag.ResponseMessage,
        Header(),
        TtlvItem.Structure(
            Tag.BatchItem,
            TtlvItem.Enumeration(Tag.Operation, (uint)operation),
            TtlvItem.Enumeration(Tag.ResultStatus, (uint)KmipResultStatus.Success),
            payload));
}
