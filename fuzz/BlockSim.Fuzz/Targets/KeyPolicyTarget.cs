using System.Text;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Policies;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// Key policy documents (UTF-8 JSON). Checked: a document is either refused as malformed, with the JSON path
/// of the fault, or parsed; a parsed policy evaluates any request without throwing, and parsing the same
/// text twice gives the same decisions.
/// </summary>
internal sealed class KeyPolicyTarget : IFuzzTarget
{
    private static readonly PolicyRequest[] s_requests =
    [
        new("user:alice", "kms:Decrypt", null, null, null),
        new("blocksim-daemon", "kms:GenerateDataKey", "blocksim-daemon", "127.0.0.1", new Dictionary<string, string> { ["volume"] = "v1" }),
        new("cert:CN=client", "kms:PutKeyPolicy", null, "10.0.0.1", null, "CN=client"),
        new("*", "kms:*", null, null, null),
    ];

    public string Name => "key-policy";

    public string Description => "key policy JSON; refused with a JSON path, or parsed and evaluated";

    public void Run(ReadOnlySpan<byte> input)
    {
        var json = Encoding.UTF8.GetString(input);
        KeyPolicy policy;
        try
        {
            policy = KeyPolicy.Parse(json);
        }
        catch (KeyStoreException e) when (e.ErrorCode == "MalformedPolicyDocumentException")
        {
            if (!e.Message.StartsWith('$'))
            {
                throw new FuzzFinding($"a refusal that does not name where the fault is: {e.Message}");
            }

            return;
        }

        var again = KeyPolicy.Parse(json);
        foreach (var request in s_requests)
        {
            if (policy.Evaluate(request) != again.Evaluate(request))
            {
                throw new FuzzFinding("the same policy decided the same request two ways");
            }
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return ("default", Encoding.UTF8.GetBytes(KeyPolicy.Default("user:admin")));
        yield return ("aws-shapes", """
            { "Version": "2012-10-17", "Id": "p1", "Statement": { "Sid": "s", "Effect": "Allow",
              "Principal": { "AWS": ["user:alice", "cert:CN=client"] }, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
              "Condition": { "StringEquals": { "kms:EncryptionContext:volume": ["v1", "v2"], "kms:InvokedBy": "blocksim-daemon" } } } }
            """u8.ToArray());
        yield return ("deny", """
            { "Statement": [ { "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": { "IpAddress": { "aws:SourceIp": "10.0.0.0/8" } } },
                             { "Effect": "Allow", "Principal": "user:admin", "Action": "kms:*", "Resource": "*" } ] }
            """u8.ToArray());
    }
}
