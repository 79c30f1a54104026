namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// Before the VAES tier is offered, its generated code must reproduce the AES-NI tier's output on this
/// machine, in both directions, over several 16-block groups and a tail. A mismatch, or a machine that
/// refuses executable mappings, leaves the tier unavailable instead of corrupting a volume.
/// </summary>
internal static class VaesSelfTest
{
    public static bool Passes()
    {
        try
        {
            var key = new byte[64];
            var data = new byte[(5 * VaesKernel.GroupBytes) + 48]; // past the size below which the engine keeps to AES-NI
            new Random(1619).NextBytes(key);
            new Random(38).NextBytes(data);
            using var vaes = new VaesXtsEngine(key);
            using var aesNi = new AesNiXtsEngine(key);
            var expected = new byte[data.Length];
            var actual = new byte[data.Length];
            var startTweak = System.Runtime.Intrinsics.Vector128.Create((byte)0x5a);
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
            return data.AsSpan().SequenceEqual(actual) && t1 == t2;
        }
        catch (InvalidOperationException)
        {
            return false; // the kernel could not be mapped executable
        }
    }
}
