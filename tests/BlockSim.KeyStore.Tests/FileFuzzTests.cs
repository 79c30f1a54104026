using CsCheck;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// Randomly damaged store copies and audit logs (bit flips, truncation, spliced bytes, huge numbers): the
/// store opens from the good copy or refuses with a KeyStoreException, never another exception, and opening
/// never rewrites the good copy; audit verification reports damage instead of crashing.
/// </summary>
public class FileFuzzTests
{
    private static readonly long s_iterations = long.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_FUZZ_ITERATIONS"), out var n) ? Math.Max(1, n / 10) : 200;

    [Fact]
    public void A_damaged_store_copy_opens_from_the_other_or_is_refused_clearly()
    {
        using var f = new StoreFixture();
        f.Store.Dispose();
        var primary = Path.Combine(f.StorePath, "keystore.json");
        var backup = Path.Combine(f.StorePath, "keystore.backup.json");
        var good = (Primary: File.ReadAllBytes(primary), Backup: File.ReadAllBytes(backup));
        Gen.Select(Damage(good.Primary.Length), Gen.Bool).Sample(
            sample =>
            {
                var (damage, both) = sample;
                File.WriteAllBytes(primary, damage(good.Primary));
                File.WriteAllBytes(backup, both ? damage(good.Backup) : good.Backup);
                try
                {
                    using var store = SealedKeyStore.Open(f.StorePath, f.KeyFile);
                    if (!both)
                    {
                        Assert.Equal(good.Backup, File.ReadAllBytes(backup)); // the good copy is never overwritten by opening
                    }

                    Assert.NotNull(store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId); // a request writes both (the audit anchor)
                }
                catch (KeyStoreException e)
                {
                    Assert.False(string.IsNullOrWhiteSpace(e.Message));
                }

                if (!both)
                {
                    File.WriteAllBytes(backup, good.Backup); // the next sample starts from the same good copy
                }
            },
            iter: s_iterations,
            threads: 1);
    }

    /// <summary>Regression: found by the fuzzer above (seed eVhed29YPCv1), a slot nonce of the wrong size threw from AES-GCM.</summary>
    [Fact]
    public void A_slot_with_a_malformed_nonce_in_one_copy_opens_from_the_other()
    {
        using var f = new StoreFixture();
        f.Store.Dispose();
        var primary = Path.Combine(f.StorePath, "keystore.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(primary))!;
        json["slots"]![0]!["nonce"] = Convert.ToBase64String(new byte[5]);
        File.WriteAllText(primary, json.ToJsonString());
        using var store = SealedKeyStore.Open(f.StorePath, f.KeyFile);
        Assert.NotNull(store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin).KeyId);
    }

    [Fact]
    public void A_damaged_audit_log_fails_verification_without_crashing()
    {
        using var f = new StoreFixture();
        for (var i = 0; i < 5; i++)
        {
            f.Store.DescribeKey(SealedKeyStore.DefaultAlias, StoreFixture.Admin);
        }

        var log = File.ReadAllBytes(f.Store.AuditLogPath);
        Damage(log.Length).Sample(
            damage =>
            {
                var damaged = damage(log);
                File.WriteAllBytes(f.Store.AuditLogPath, damaged);
                var (problems, _) = f.Store.VerifyAuditLog();
                Assert.True(problems.Count > 0 || SameRecords(damaged, log), $"a damaged log verified as intact:\n{System.Text.Encoding.UTF8.GetString(damaged)}");
            },
            iter: s_iterations,
            threads: 1);
    }

    /// <summary>Ways to damage a file: flip a bit, truncate, overwrite a run with random bytes or digits.</summary>
    internal static Gen<Func<byte[], byte[]>> Damage(int length) => Gen.OneOf(
        Gen.Select(Gen.Int[0, length - 1], Gen.Int[0, 7], (at, bit) => (Func<byte[], byte[]>)(bytes => With(bytes, b => b[Math.Min(at, b.Length - 1)] ^= (byte)(1 << bit)))),
        Gen.Int[0, length - 1].Select(keep => (Func<byte[], byte[]>)(bytes => bytes[..Math.Min(keep, bytes.Length)])),
        Gen.Select(Gen.Int[0, length - 1], Gen.Byte.Array[1, 24], (at, junk) => (Func<byte[], byte[]>)(bytes => With(bytes, b => junk.AsSpan(0, Math.Min(junk.Length, b.Length - Math.Min(at, b.Length))).CopyTo(b.AsSpan(Math.Min(at, b.Length)))))),
        Gen.Int[0, length - 1].Select(at => (Func<byte[], byte[]>)(bytes => With(bytes, b => "99999999999999999999"u8[..Math.Min(20, b.Length - Math.Min(at, b.Length))].CopyTo(b.AsSpan(Math.Min(at, b.Length)))))));

    /// <summary>True when the damage only touched layout (white space), not a record's content.</summary>
    private static bool SameRecords(byte[] a, byte[] b)
    {
        static string[]? Records(byte[] bytes)
        {
            try
            {
                return System.Text.Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(line => System.Text.Json.JsonSerializer.Serialize(System.Text.Json.JsonDocument.Parse(line).RootElement)).ToArray();
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }

        var (left, right) = (Records(a), Records(b));
        return left is not null && right is not null && left.SequenceEqual(right);
    }

    private static byte[] With(byte[] bytes, Action<byte[]> change)
    {
        var copy = (byte[])bytes.Clone();
        change(copy);
        return copy;
    }
}
