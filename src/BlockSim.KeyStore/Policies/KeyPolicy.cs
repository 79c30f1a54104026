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
/// A key policy: statements with Sid, Effect (Allow or Deny), Principal ("*", one, a list, or {"AWS": ...}),
/// Action ("*", one, or a list; a "kms:" prefix and prefix patterns are accepted) and an optional Condition with
/// StringEquals / StringNotEquals (a list of values means any of them) on "[kms:]EncryptionContext:FIELD", "InvokedBy", "SourceAddress", "ClientIdentity" (the network client a service
/// acts for, e.g. "CN=alice" or "anonymous"; absent when nobody is) or "Principal". An explicit Deny always wins;
/// without an Allow the answer is NotApplicable (and so, unless a grant applies, Deny).
/// </summary>
public sealed class KeyPolicy
{
    private readonly List<PolicyStatement> _statements;

    private KeyPolicy(List<PolicyStatement> statements) => _statements = statements;

    /// <summary>The policy a new key gets: its administrator may do everything.</summary>
    public static string Default(string administrator) => JsonSerializer.Serialize(new
    {
        Statement = new[] { new { Sid = "KeyAdministrator", Effect = "Allow", Principal = administrator, Action = "*" } },
    });

    /// <summary>Parses a policy strictly (<see cref="PolicyParser"/>): a fault is a MalformedPolicyDocumentException naming its JSON path.</summary>
    public static KeyPolicy Parse(string json) => new(PolicyParser.Parse(json));

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
}
