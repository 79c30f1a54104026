namespace BlockSim.KeyStore.Policies;

/// <summary>One condition test: the value of <paramref name="Key"/> equal to one of <paramref name="Values"/> (StringEquals) or to none (StringNotEquals).</summary>
internal sealed record PolicyCondition(bool MustEqual, string Key, string[] Values);

/// <summary>One parsed statement; <see cref="Applies"/> says whether it covers a request.</summary>
internal sealed record PolicyStatement(string? Sid, bool Deny, string[] Principals, string[] Actions, List<PolicyCondition> Conditions)
{
    public bool Applies(PolicyRequest r) =>
        (Principals.Contains("*") || Principals.Contains(r.Principal))
        && Actions.Any(a => PolicyActions.Matches(a, r.Action))
        && Conditions.All(c => (Value(r, c.Key) is { } v && c.Values.Contains(v)) == c.MustEqual);

    private static string? Value(PolicyRequest r, string key) => key switch
    {
        "InvokedBy" => r.InvokedBy,
        "SourceAddress" => r.SourceAddress,
        "ClientIdentity" => r.ClientIdentity,
        "Principal" => r.Principal,
        _ when key.StartsWith(PolicyParser.ContextPrefix, StringComparison.Ordinal) =>
            r.EncryptionContext is { } c && c.TryGetValue(key[PolicyParser.ContextPrefix.Length..], out var v) ? v : null,
        _ => null,
    };
}
