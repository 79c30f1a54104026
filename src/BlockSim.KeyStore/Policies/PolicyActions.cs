namespace BlockSim.KeyStore.Policies;

/// <summary>
/// The actions a key policy can name: the ones the store checks. As in AWS, "kms:" is an optional prefix,
/// "*" (or "kms:*") is every action, and a trailing "*" matches by prefix ("kms:Describe*",
/// "kms:GenerateDataKey*"); a pattern must match at least one action, so a misspelling is refused.
/// </summary>
internal static class PolicyActions
{
    public static readonly string[] Known =
    [
        "Decrypt", "GenerateDataKey", "ReEncrypt", "DescribeKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion",
        "CancelKeyDeletion", "RotateKey", "GetKeyPolicy", "PutKeyPolicy", "CreateGrant", "ListGrants", "RetireGrant",
        "CreateAlias",
    ];

    /// <summary>
    /// AWS's finer names for what BlockSim checks as one permission: the store's GenerateDataKeyWithoutPlaintext
    /// call asks for GenerateDataKey, and ReEncrypt needs ReEncrypt on both keys.
    /// </summary>
    private static readonly Dictionary<string, string> s_awsNames = new()
    {
        ["GenerateDataKeyWithoutPlaintext"] = "GenerateDataKey",
        ["ReEncryptFrom"] = "ReEncrypt",
        ["ReEncryptTo"] = "ReEncrypt",
    };

    /// <summary>The action or pattern without its "kms:" prefix, or null when it names no known action.</summary>
    public static string? Normalize(string action)
    {
        var name = action.StartsWith("kms:", StringComparison.Ordinal) ? action[4..] : action;
        if (s_awsNames.TryGetValue(name, out var same))
        {
            return same;
        }

        if (name == "*")
        {
            return name;
        }

        return name.EndsWith('*')
            ? Known.Any(k => k.StartsWith(name[..^1], StringComparison.Ordinal)) ? name : null
            : Known.Contains(name) ? name : null;
    }

    /// <summary>Whether a normalized pattern covers <paramref name="action"/>.</summary>
    public static bool Matches(string pattern, string action) =>
        pattern == "*" || pattern == action || (pattern.EndsWith('*') && action.StartsWith(pattern[..^1], StringComparison.Ordinal));
}
