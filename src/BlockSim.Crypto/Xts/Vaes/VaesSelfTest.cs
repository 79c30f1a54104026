using System.Runtime.Intrinsics;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// Before a VAES tier is offered, its generated code must reproduce the AES-NI tier's output on this
/// machine, in both directions, over several groups of vectors, a remainder of single vectors and a tail of
/// blocks. A mismatch, or a machine that refuses executable mappings, leaves the tier unavailable instead
/// of corrupting a volume.
/// </summary>
internal static class VaesSelfTest
{
    public static bool Passes(Func<byte[], XtsEngine> create)
    {
        try
        {
            var key = new byte[64];
            var data = new byte[(5 * VaesKernel.GroupBytes) + 112]; // past the size below which the engines keep to AES-NI
            new Random(1619).NextBytes(key);
            new Random(38).NextBytes(data);
            using var vaes = create(key);
            using var aesNi = new AesNiXtsEngine(key);
            var expected = new byte[data.Length];
            var actual = new byte[data.Length];
            var startTweak = Vector128.Create((byte)0x5a);
            var t1 = startTweak;
            var t2 = startTweak;
            aesNi.EncryptBlocks(data, expected, ref t1);
            vaes.EncryptBlocks(data, actual, ref t2);
            if (!expected.AsSpan().SequenceEqual(actual) || t1 != t2)
            {
                return false;
            }

            t2 = startTweak;
            vaes.DecryptBlocks(actual, actual, ref t2);
            if (!data.AsSpan().SequenceEqual(actual) || t1 != t2)
            {
                return false;
            }

            // The path that takes a tweak value and may encrypt it inside the kernel (single sectors).
            var sector = Vector128.Create(4242UL, 0UL).AsByte();
            aesNi.CryptBlocksFromTweakValue(data, expected, sector, decrypt: false);
            vaes.CryptBlocksFromTweakValue(data, actual, sector, decrypt: false);
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                return false;
            }

            vaes.CryptBlocksFromTweakValue(actual, actual, sector, decrypt: true);
            return data.AsSpan().SequenceEqual(actual);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // The kernel could not be mapped executable, or not be generated: either way the tier is not
            // offered, and the process carries on with the others.
            return false;
        }
    }
}
