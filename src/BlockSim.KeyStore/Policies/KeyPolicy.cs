using System.Text.Json;

namespace BlockSim.KeyStore.Policies;

public enum PolicyDecision
{
    NotApplicable,
    Allow,
    Deny,
}

/// <summary>The facts a policy condition can test.</summary>
public sealed record PolicyRequest(string Principal, string Action, string? InvokedBy, string? SourceAddress, IReadOnlyDictionary<string, string>? EncryptionContext, string? ClientIdentity = null);

/// <summary>
/// A key policy: statements with Sid, Effect (Allow or Deny), Principal ("*", one, or a list), Action ("*",
/// one, or a list; a "kms:" prefix is accepted) and an optional Condition with StringEquals / StringNotEquals
/// on "EncryptionContext:FIELD", "InvokedBy", "SourceAddress", "ClientIdentity" (the network client a service
/// acts for, e.g. "CN=alice" or "anonymous"; absent when nobody is) or "Principal". An explicit Deny always wins;
/// without an Allow the answer is NotApplicable (and so, unless a grant applies, Deny).
/// </summary>
public sealed class KeyPolicy
{
    private readonly List<Statement> _statements;

    private KeyPolicy(List<Statement> statements) => _statements = statements;

    /// <summary>The policy a new key gets: its administrator may do everything.</summary>
    public static string Default(string administrator) => JsonSerializer.Serialize(new
    {
        Statement = new[] { new { Sid = "KeyAdministrator", Effect = "Allow", Principal = administrator, Action = "*" } },
    });

    /// <summary>Parses a policy, with a message that says what is wrong when it cannot.</summary>
    public static KeyPolicy Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("Statement", out var statements) || statements.ValueKind != JsonValueKind.Array)
            {
                throw new KeyStoreException("MalformedPolicyDocumentException", "A key policy needs a \"Statement\" array.");
            }

            return new KeyPolicy(statements.EnumerateArray().Select(Statement.Parse).ToList());
        }
        catch (JsonException e)
        {
            throw new KeyStoreException("MalformedPolicyDocumentException", $"The key policy is not valid JSON: {e.Message}", e);
        }
    }

    public PolicyDecision Evaluate(PolicyRequest request)
    {
        var allowed = false;
        foreach (var statement in _statements.Where(s => s.Applies(request)))
        {
            if (statement.Deny)
            {
                return PolicyDecision.Deny;
            }

            allowed = true;
        }

        return allowed ? PolicyDecision.Allow : PolicyDecision.NotApplicable;
    }

    private sealed record Statement(string? Sid, bool Deny, string[] Principals, string[] Actions, List<(bool MustEqual, string Key, string Value)> Conditions)
    {
        public static Statement Parse(JsonElement e)
        {
            var effect = Text(e, "Effect");
            if (effect is not ("Allow" or "Deny"))
            {
                throw new KeyStoreException("MalformedPolicyDocumentException", $"Statement {Text(e, "Sid") ?? "(no Sid)"}: Effect must be Allow or Deny.");
            }

            var conditions = new List<(bool, string, string)>();
            if (e.TryGetProperty("Condition", out var condition))
            {
                foreach (var op in condition.EnumerateObject())
                {
                    if (op.Name is not ("StringEquals" or "StringNotEquals"))
                    {
                        throw new KeyStoreException("MalformedPolicyDocumentException", $"Condition operator {op.Name} is not supported; use StringEquals or StringNotEquals.");
                    }

                    foreach (var test in op.Value.EnumerateObject())
                    {
                        conditions.Add((op.Name == "StringEquals", test.Name, test.Value.GetString() ?? ""));
                    }
                }
            }

            return new Statement(Text(e, "Sid"), effect == "Deny", List(e, "Principal"), List(e, "Action").Select(a => a.StartsWith("kms:", StringComparison.Ordinal) ? a[4..] : a).ToArray(), conditions);
        }

        public bool Applies(PolicyRequest r) =>
            (Principals.Contains("*") || Principals.Contains(r.Principal))
            && (Actions.Contains("*") || Actions.Contains(r.Action))
            && Conditions.All(c => (Value(r, c.Key) == c.Value) == c.MustEqual);

        private static string? Value(PolicyRequest r, string key) => key switch
        {
            "InvokedBy" => r.InvokedBy,
            "SourceAddress" => r.SourceAddress,
            "ClientIdentity" => r.ClientIdentity,
            "Principal" => r.Principal,
            _ when key.StartsWith("EncryptionContext:", StringComparison.Ordinal) =>
                r.EncryptionContext is { } c && c.TryGetValue(key["EncryptionContext:".Length..], out var v) ? v : null,
            _ => null,
        };

        private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;

        private static string[] List(JsonElement e, string name) =>
            !e.TryGetProperty(name, out var v) ? []
            : v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetString() ?? "").ToArray()
            : [v.GetString() ?? ""];
    }
}
