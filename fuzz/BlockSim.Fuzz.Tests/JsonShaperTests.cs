using System.Text.Json;
using BlockSim.Fuzz.Targets;

namespace BlockSim.Fuzz.Tests;

/// <summary>The choices-to-JSON shaper the shaped targets fuzz through: its seeds mean their JSON, and any bytes give a document.</summary>
public class JsonShaperTests
{
    private static readonly JsonShaper s_shaper = JsonShaper.FromAflDictionary("""
        # a dictionary as AFL++ reads one
        t0="{"
        t1="\"Principal\""
        t2="\"AWS\""
        t3="\"*\""
        t4="1e30"
        t5="1e309"
        t6="null"
        t7="\"\\x41B\""
        """);

    [Theory]
    [InlineData("""{"Principal":{"AWS":"*"}}""")]
    [InlineData("""{"Principal":["user:alice","AB"],"n":[1e30,-7,2147483647,0.25,true,null,{}]}""")]
    [InlineData("""[1e309,"é","\u0000"]""")]
    [InlineData("\"just a string\"")]
    public void A_document_encoded_as_choices_is_shaped_back_into_the_same_document(string json)
    {
        var shaped = s_shaper.Shape(s_shaper.Encode(json));

        Assert.Equal(Canonical(json), Canonical(shaped));
    }

    [Fact]
    public void Dictionary_entries_take_two_bytes_and_the_end_of_the_input_closes_everything()
    {
        Assert.Equal(5, s_shaper.Encode("""{"Principal":"*"}""").Length); // object, 1 member, the key, a dictionary string, which one
        Assert.Equal("{}", s_shaper.Shape([]));
        Assert.Equal("{\"Principal\":{}}", s_shaper.Shape([0, 1, 0]));
    }

    [Fact]
    public void Any_bytes_give_a_document_of_bounded_size()
    {
        var random = new Random(11);
        for (var i = 0; i < 2000; i++)
        {
            var input = new byte[random.Next(0, 300)];
            random.NextBytes(input);
            var shaped = s_shaper.Shape(input);
            Assert.InRange(shaped.Length, 0, (64 * (input.Length + 1)) + 2000); // past the end every value is {}: at most 8 open objects get their last members
        }
    }

    private static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = true });
        return JsonSerializer.Serialize(document.RootElement);
    }
}
