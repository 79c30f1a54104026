using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip.Tests;

/// <summary>
/// Whole messages printed in hex by the OASIS KMIP 1.1 Test Cases (3.1.1 Create / Destroy, 12.1 Query) and
/// the 1.0 Use Cases (4.1, Get Attributes): the requests this client builds are those bytes (at the
/// document's protocol version; this client sends 1.2, one byte apart), and their answers read as the
/// documents say.
/// </summary>
public class KmipTestCaseMessageTests
{
    private const string CreateRequest311 = "42007801000001204200770100000038420069010000002042006A0200000004000000010000000042006B0200000004000000010000000042000D0200000004000000010000000042000F01000000D842005C0500000004000000010000000042007901000000C04200570500000004000000020000000042009101000000A8420008010000003042000A070000001743727970746F6772617068696320416C676F726974686D0042000B05000000040000000300000000420008010000003042000A070000001443727970746F67726170686963204C656E6774680000000042000B02000000040000008000000000420008010000003042000A070000001843727970746F67726170686963205573616765204D61736B42000B02000000040000000C00000000";
    private const string CreateResponse311 = "42007B01000000C042007A0100000048420069010000002042006A0200000004000000010000000042006B020000000400000001000000004200920900000008000000004F9A54E542000D0200000004000000010000000042000F010000006842005C0500000004000000010000000042007F0500000004000000000000000042007C010000004042005705000000040000000200000000420094070000002466623462356239632D363138382D346336332D383134322D66653963333238313239666300000000";
    private const string DestroyRequest311 = "42007801000000904200770100000038420069010000002042006A0200000004000000010000000042006B0200000004000000010000000042000D0200000004000000010000000042000F010000004842005C050000000400000014000000004200790100000030420094070000002466623462356239632D363138382D346336332D383134322D66653963333238313239666300000000";
    private const string DestroyResponse311 = "42007B01000000B042007A0100000048420069010000002042006A0200000004000000010000000042006B020000000400000001000000004200920900000008000000004F9A54E542000D0200000004000000010000000042000F010000005842005C0500000004000000140000000042007F0500000004000000000000000042007C0100000030420094070000002466623462356239632D363138382D346336332D383134322D66653963333238313239666300000000";
    private const string QueryTooLarge121 = "42007B01000000C842007A0100000048420069010000002042006A0200000004000000010000000042006B020000000400000001000000004200920900000008000000004F9A556B42000D0200000004000000010000000042000F010000007042007F0500000004000000010000000042007E0500000004000000020000000042007D0700000043526573706F6E73652073697A653A203634382C204D6178696D756D20526573706F6E73652053697A6520696E6469636174656420696E20726571756573743A203235360000000000";
    private const string GetAttributesResponse41 = "42007B01000000D842007A0100000048420069010000002042006A0200000004000000010000000042006B020000000400000000000000004200920900000008000000004AFBED2B42000D0200000004000000010000000042000F010000008042005C05000000040000000B0000000042007F0500000004000000000000000042007C0100000058420094070000002432316432386238612D303664662D343363302D623732662D32613136313633336164613900000000420008010000002042000A0700000005537461746500000042000B05000000040000000100000000";

    private const string KeyId = "fb4b5b9c-6188-4c63-8142-fe9c328129fc";

    [Fact]
    public void Create_is_the_test_case_request() =>
        Assert.Equal(CreateRequest311, Convert.ToHexString(TtlvEncoder.Encode(KmipMessages.Request(KmipOperation.Create, KmipClient.CreatePayload(128), minor: 1))));

    [Fact]
    public void Destroy_is_the_test_case_request() =>
        Assert.Equal(DestroyRequest311, Convert.ToHexString(TtlvEncoder.Encode(KmipMessages.Request(KmipOperation.Destroy, KmipClient.ById(KeyId), minor: 1))));

    [Fact]
    public void This_client_sends_1_2_one_byte_from_the_test_case()
    {
        var sent = TtlvEncoder.Encode(KmipMessages.Request(KmipOperation.Create, KmipClient.CreatePayload(128)));
        var printed = Convert.FromHexString(CreateRequest311);
        Assert.Equal(printed.Length, sent.Length);
        Assert.Equal([51], Enumerable.Range(0, sent.Length).Where(i => sent[i] != printed[i]));
        Assert.Equal(2, sent[51]);
    }

    [Fact]
    public void The_create_answer_gives_the_key_id()
    {
        var payload = KmipMessages.ResponsePayload(TtlvDecoder.Decode(Convert.FromHexString(CreateResponse311)), KmipOperation.Create);
        Assert.Equal(KeyId, payload.Get(Tag.UniqueIdentifier, TtlvType.TextString).Text());
        Assert.Equal(2, payload.Get(Tag.ObjectType).Number);
    }

    [Fact]
    public void The_destroy_answer_is_a_success() =>
        Assert.Equal(KeyId, KmipMessages.ResponsePayload(TtlvDecoder.Decode(Convert.FromHexString(DestroyResponse311)), KmipOperation.Destroy).Get(Tag.UniqueIdentifier).Text());

    [Fact]
    public void A_failed_query_without_an_operation_field_names_its_reason()
    {
        var e = Assert.Throws<KmipOperationException>(() => KmipMessages.ResponsePayload(TtlvDecoder.Decode(Convert.FromHexString(QueryTooLarge121)), KmipOperation.Query));
        Assert.Equal(KmipResultReason.ResponseTooLarge, e.Reason);
        Assert.Equal("Response size: 648, Maximum Response Size indicated in request: 256", e.ServerMessage);
    }

    [Fact]
    public void The_get_attributes_answer_gives_the_state() =>
        Assert.Equal(KmipState.PreActive, KmipClient.StateIn(KmipMessages.ResponsePayload(TtlvDecoder.Decode(Convert.FromHexString(GetAttributesResponse41)), KmipOperation.GetAttributes)));

    public static TheoryData<string> Answers => new() { CreateResponse311, DestroyResponse311, QueryTooLarge121, GetAttributesResponse41 };

    [Theory]
    [MemberData(nameof(Answers))]
    public void Every_truncation_of_an_answer_is_refused(string hex)
    {
        var whole = Convert.FromHexString(hex);
        for (var length = 0; length < whole.Length; length++)
        {
            Assert.Throws<TtlvFormatException>(() => TtlvDecoder.Decode(whole.AsSpan(0, length)));
        }
    }
}
