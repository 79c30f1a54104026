using System.Text.Json;

namespace BlockSim.Crypto.Tests;

/// <summary>One published XTS-AES-256 known-answer vector.</summary>
public sealed record XtsVector(string Name, string Group, byte[] Key, byte[] Tweak, byte[] Plaintext, byte[] Ciphertext)
{
    public override string ToString() => $"{Group}: {Name} ({Plaintext.Length} bytes)";
}

/// <summary>Loads Vectors/xts-aes-256.json, copied into the test project (sources listed in Vectors/README.md).</summary>
public static class XtsVectors
{
    private static readonly Lazy<IReadOnlyList<XtsVector>> s_all = new(Load);

    public static IReadOnlyList<XtsVector> All => s_all.Value;

    private static IReadOnlyList<XtsVector> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Vectors", "xts-aes-256.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.GetProperty("vectors").EnumerateArray()
            .Select(v => new XtsVector(
                v.GetProperty("name").GetString()!,
                v.GetProperty("group").GetString()!,
                Hex(v, "key"),
                Hex(v, "tweak"),
                Hex(v, "plaintext"),
                Hex(v, "ciphertext")))
            .ToArray();
    }

    private static byte[] Hex(JsonElement e, string name) => Convert.FromHexString(e.GetProperty(name).GetString()!);
}
