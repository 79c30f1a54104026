using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip.Tests;

/// <summary>The envelope: what a request carries in its header, and what each kind of answer becomes.</summary>
public class KmipMessagesTests
{
    private static TtlvItem Response(KmipOperation operation, KmipResultStatus status, TtlvItem? payload = null, uint? reason = null, string? message = null, int major = 1) =>
        TtlvItem.Structure(
            Tag.ResponseMessage,
            TtlvItem.Structure(
                Tag.ResponseHeader,
                TtlvItem.Structure(Tag.ProtocolVersion, TtlvItem.Integer(Tag.ProtocolVersionMajor, major), TtlvItem.Integer(Tag.ProtocolVersionMinor, 2)),
                TtlvItem.DateTime(Tag.TimeStamp, DateTimeOffset.UnixEpoch),
                TtlvItem.Integer(Tag.BatchCount, 1)),
            TtlvItem.Structure(
                Tag.BatchItem,
                TtlvItem.Enumeration(Tag.Operation, (uint)operation),
                TtlvItem.Enumeration(Tag.ResultStatus, (uint)status),
                reason is { } r ? TtlvItem.Enumeration(Tag.ResultReason, r) : null,
                message is null ? null : TtlvItem.Text(Tag.ResultMessage, message),
                payload));

    private static TtlvItem RoundTrip(TtlvItem item) => TtlvDecoder.Decode(TtlvEncoder.Encode(item));

    [Fact]
    public void A_request_says_version_1_2_and_one_batch_item()
    {
        var request = RoundTrip(KmipMessages.Request(KmipOperation.Activate, TtlvItem.Structure(Tag.RequestPayload, TtlvItem.Text(Tag.UniqueIdentifier, "7"))));
        var header = request.Get(Tag.RequestHeader);
        Assert.Equal(1, header.Get(Tag.ProtocolVersion).Get(Tag.ProtocolVersionMajor).Number);
        Assert.Equal(2, header.Get(Tag.ProtocolVersion).Get(Tag.ProtocolVersionMinor).Number);
        Assert.Equal(1, header.Get(Tag.BatchCount).Number);
        var item = request.Get(Tag.BatchItem);
        Assert.Equal((long)KmipOperation.Activate, item.Get(Tag.Operation).Number);
        Assert.Equal("7", item.Get(Tag.RequestPayload).Get(Tag.UniqueIdentifier).Text());
    }

    [Fact]
    public void A_success_gives_its_payload()
    {
        var payload = KmipMessages.ResponsePayload(
            RoundTrip(Response(KmipOperation.Create, KmipResultStatus.Success, TtlvItem.Structure(Tag.ResponsePayload, TtlvItem.Text(Tag.UniqueIdentifier, "42")))),
            KmipOperation.Create);
        Assert.Equal("42", payload.Get(Tag.UniqueIdentifier).Text());
    }

    [Fact]
    public void A_failure_names_its_reason_and_the_servers_message()
    {
        var e = Assert.Throws<KmipOperationException>(() => KmipMessages.ResponsePayload(
            RoundTrip(Response(KmipOperation.Decrypt, KmipResultStatus.OperationFailed, reason: (uint)KmipResultReason.PermissionDenied, message: "Could not locate object: 5")),
            KmipOperation.Decrypt));
        Assert.Equal(KmipResultReason.PermissionDenied, e.Reason);
        Assert.Contains("Permission Denied", e.Message, StringComparison.Ordinal);
        Assert.Contains("Could not locate object: 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_result_reason_has_words()
    {
        foreach (var reason in Enum.GetValues<KmipResultReason>())
        {
            Assert.DoesNotContain("result reason 0x", KmipResultReasons.Describe(reason), StringComparison.Ordinal);
        }

        Assert.Contains("0x77", KmipResultReasons.Describe((KmipResultReason)0x77), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wrong operation")]
    [InlineData("version 2")]
    [InlineData("pending")]
    [InlineData("not a response")]
    [InlineData("two batch items")]
    public void Answers_that_do_not_fit_are_protocol_errors(string what)
    {
        var response = what switch
        {
            "wrong operation" => Response(KmipOperation.Encrypt, KmipResultStatus.Success),
            "version 2" => Response(KmipOperation.Decrypt, KmipResultStatus.Success, major: 2),
            "pending" => Response(KmipOperation.Decrypt, KmipResultStatus.OperationPending),
            "not a response" => TtlvItem.Structure(Tag.RequestMessage),
            _ => TtlvItem.Structure(Tag.ResponseMessage, [.. Response(KmipOperation.Decrypt, KmipResultStatus.Success).Items, Response(KmipOperation.Decrypt, KmipResultStatus.Success).Items[1]]),
        };
        Assert.Throws<KmipProtocolException>(() => KmipMessages.ResponsePayload(RoundTrip(response), KmipOperation.Decrypt));
    }

    [Theory]
    [InlineData("kmip.example.com", "kmip.example.com", 5696)]
    [InlineData("127.0.0.1:15696", "127.0.0.1", 15696)]
    [InlineData("[::1]:5697", "::1", 5697)]
    [InlineData("[::1]", "::1", 5696)]
    public void Servers_parse(string text, string host, int port) => Assert.Equal((host, port), KmipEndpoint.ParseServer(text));

    [Theory]
    [InlineData("")]
    [InlineData(":5696")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:port")]
    [InlineData("[::1")]
    [InlineData("[::1]x")]
    public void Bad_servers_are_refused(string text) => Assert.Throws<KmipConfigurationException>(() => KmipEndpoint.ParseServer(text));
}
