using System.Security.Cryptography;
using BlockSim.Storage.Volumes;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The volume header. The input is a header (padded to 4096 bytes); when its first byte is odd the target
/// puts the right checksum in, so the fuzzer gets past the checksum to the fields. Checked: parsing never
/// throws; a header that parses can be written again, and what is written reads back the same.
/// </summary>
internal sealed class VolumeHeaderTarget : IFuzzTarget
{
    public string Name => "volume-header";

    public string Description => "volume headers (4096 bytes; checksum fixed up when byte 0 is odd); parse-write-parse round trip";

    public void Run(ReadOnlySpan<byte> input)
    {
        var bytes = new byte[VolumeHeader.Size];
        input[..Math.Min(input.Length, bytes.Length)].CopyTo(bytes);
        if (!input.IsEmpty && (input[0] & 1) != 0)
        {
            "BLKSIMVL"u8.CopyTo(bytes);
            SHA256.HashData(bytes.AsSpan(0, VolumeHeader.Size - 32), bytes.AsSpan(VolumeHeader.Size - 32));
        }

        if (VolumeHeader.TryParse(bytes, out var problem) is not { } header)
        {
            if (string.IsNullOrEmpty(problem))
            {
                throw new FuzzFinding("a header was refused without a reason");
            }

            return;
        }

        var written = header.Serialize();
        var again = VolumeHeader.TryParse(written, out problem) ?? throw new FuzzFinding($"a header written from a parsed one does not parse: {problem}");
        if (!again.Serialize().AsSpan().SequenceEqual(written) || again.VolumeId != header.VolumeId || again.Capacity != header.Capacity
            || again.SectorSize != header.SectorSize || again.KeyId != header.KeyId || again.Owner != header.Owner || !again.WrappedKey.AsSpan().SequenceEqual(header.WrappedKey))
        {
            throw new FuzzFinding("a header does not read back the same after it is written");
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        var header = new VolumeHeader(new Guid("6b1f3a52-1d7e-4b8e-9a43-0c2f5e6d7a81"), 32L << 20, 4096, "alias/blocksim/default", "user:fuzz", new byte[180]).Serialize();
        yield return ("valid", header);
        header[0] |= 1; // "CLKSIMVL": the target restores the magic and fixes the checksum, so fields can be mutated freely
        yield return ("fixed-up", header);
    }
}
