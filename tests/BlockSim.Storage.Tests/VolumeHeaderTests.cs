using System.Security.Cryptography;
using BlockSim.Storage.Volumes;

namespace BlockSim.Storage.Tests;

/// <summary>The header on its own; inputs the fuzzing found (fuzz/corpus/volume-header/finding-*) among them.</summary>
public class VolumeHeaderTests
{
    [Fact]
    public void A_header_whose_key_id_is_not_utf8_is_refused_not_parsed_into_one_that_cannot_be_written_back()
    {
        // volume-header finding-key-id-not-utf8: 60 bytes of 0xFF in the key id decoded to 60 replacement
        // characters (180 bytes of UTF-8), so the parsed header threw ArgumentException when written (resize, rewrap).
        var bytes = new VolumeHeader(Guid.NewGuid(), 32L << 20, 4096, "alias/blocksim/default", "user:owner", new byte[180]).Serialize();
        bytes.AsSpan(84, 60).Fill(0xFF);
        SHA256.HashData(bytes.AsSpan(0, VolumeHeader.Size - 32), bytes.AsSpan(VolumeHeader.Size - 32));

        Assert.Null(VolumeHeader.TryParse(bytes, out var problem));
        Assert.Contains("not UTF-8", problem);
    }

    [Fact]
    public void A_header_with_non_ascii_text_reads_back_the_same()
    {
        var header = new VolumeHeader(Guid.NewGuid(), 32L << 20, 512, "alias/clé-€", "user:jürgen", [1, 2, 3]);
        var again = VolumeHeader.TryParse(header.Serialize(), out _)!;
        Assert.Equal((header.KeyId, header.Owner), (again.KeyId, again.Owner));
    }
}
