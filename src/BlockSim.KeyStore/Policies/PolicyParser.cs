using System.Text.Json;

namespace BlockSim.KeyStore.Policies;

/// <summary>
/// Strict parsing of a key policy document. Every fault is refused with the JSON path of the element at fault
/// (<c>$.Statement[0].Action[1]: unknown action 'Decryptt' ...</c>) instead of being ignored or surfacing as an
/// exception from the JSON reader. The shapes AWS writes are accepted: Statement as an array or one object,
/// Principal as "*", a name, a list, or {"AWS": name or list}; Action and condition values as a string or a
/// list (a list means any of them); Resource "*"; Version and Id. What BlockSim does not have (NotAction,
/// other principal types, other condition operators or keys) is refused by name, never half-understood.
/// </summary>
internal static class PolicyParser
{
    public const string ContextPrefix = "EncryptionContext:";

    private static readonly string[] s_conditionKeys = ["InvokedBy", "SourceAddress", "ClientIdentity", "Principal"];

    public static List<PolicyStatement> Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Fault("$", $"not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Fault("$", "a key policy is a JSON object with a \"Statement\" array");
            }

            JsonElement? statements = null;
            foreach (var property in root.EnumerateObject())
            {
                var path = $"$.{property.Name}";
                switch (property.Name)
                {
                    case "Version" or "Id":
                        RequireString(property.Value, path);
                        break;
                    case "Statement":
                        statements = property.Value;
                        break;
                    default:
                        throw Fault(path, "unknown field (a policy has Version, Id and Statement)");
                }
            }

            return statements switch
            {
                null => throw Fault("$", "a key policy needs a \"Statement\" array"),
                { ValueKind: JsonValueKind.Object } one => [Statement(one, "$.Statement")],
                { ValueKind: JsonValueKind.Array } all => all.EnumerateArray().Select((s, i) => Statement(s, $"$.Statement[{i}]")).ToList(),
                _ => throw Fault("$.Statement", "must be an array of statements (or one statement object)"),
            };
        }
    }

    private static PolicyStatement Statement(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Fault(path, "a statement is a JSON object");
        }

        string? sid = null, effect = null;
        string[]? principals = null, actions = null;
        var conditions = new List<PolicyCondition>();
        foreach (var property in e.EnumerateObject())
        {
            var at = $"{path}.{property.Name}";
            switch (property.Name)
            {
                case "Sid":
                    sid = RequireString(property.Value, at);
                    break;
                case "Effect":
                    effect = RequireString(property.Value, at);
                    if (effect is not ("Allow" or "Deny"))
                    {
                        throw Fault(at, $"must be Allow or Deny, not '{Clip(effect)}'");
                    }

                    break;
                case "Principal":
                    principals = Principals(property.Value, at);
                    break;
                case "Action":
                    actions = Strings(property.Value, at).Select((a, i) => PolicyActions.Normalize(a)
                        ?? throw Fault(property.Value.ValueKind == JsonValueKind.Array ? $"{at}[{i}]" : at, $"unknown action '{Clip(a)}' (known: {string.Join(", ", PolicyActions.Known)}, or * and prefix patterns such as kms:Describe*)")).ToArray();
                    break;
                case "Resource":
                    if (Strings(property.Value, at) is not ["*"])
                    {
                        throw Fault(at, "must be \"*\" (a key policy applies to its own key)");
                    }

                    break;
                case "Condition":
                    conditions = Conditions(property.Value, at);
                    break;
                case "NotAction" or "NotPrincipal" or "NotResource":
                    throw Fault(at, "not supported; list what the statement covers in Action, Principal or Resource");
                default:
                    throw Fault(at, "unknown field (a statement has Sid, Effect, Principal, Action, Resource and Condition)");
            }
        }

        return new PolicyStatement(
            sid,
            (effect ?? throw Fault(path, "needs an Effect (Allow or Deny)")) == "Deny",
            principals ?? throw Fault(path, "needs a Principal (\"*\", a principal such as user:alice, or {\"AWS\": ...})"),
            actions ?? throw Fault(path, "needs an Action"),
            conditions);
    }

    private static string[] Principals(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return Strings(e, path);
        }

        var principals = new List<string>();
        foreach (var property in e.EnumerateObject())
        {
            if (property.Name != "AWS")
            {
                throw Fault($"{path}.{property.Name}", "principal type not supported; use \"AWS\" (or a plain principal such as user:alice, or \"*\")");
            }

            principals.AddRange(Strings(property.Value, $"{path}.AWS"));
        }

        return principals.Count > 0 ? [.. principals] : throw Fault(path, "names no principal");
    }

    private static List<PolicyCondition> Conditions(JsonElement e, string path)
    {
        RequireObject(e, path);
        var conditions = new List<PolicyCondition>();
        foreach (var op in e.EnumerateObject())
        {
            var opPath = $"{path}.{op.Name}";
            if (op.Name is not ("StringEquals" or "StringNotEquals"))
            {
                throw Fault(opPath, "condition operator not supported; use StringEquals or StringNotEquals");
            }

            RequireObject(op.Value, opPath);
            foreach (var test in op.Value.EnumerateObject())
            {
                var testPath = $"{opPath}.{test.Name}";
                conditions.Add(new PolicyCondition(op.Name == "StringEquals", ConditionKey(test.Name, testPath), Strings(test.Value, testPath)));
            }
        }

        return conditions;
    }

    /// <summary>The key as the evaluator names it ("kms:EncryptionContext:F" becomes "EncryptionContext:F").</summary>
    private static string ConditionKey(string name, string path)
    {
        var key = name.StartsWith("kms:" + ContextPrefix, StringComparison.Ordinal) ? name[4..] : name;
        if ((key.StartsWith(ContextPrefix, StringComparison.Ordinal) && key.Length > ContextPrefix.Length) || s_conditionKeys.Contains(key))
        {
            return key;
        }

        throw Fault(path, $"unknown condition key (known: [kms:]EncryptionContext:FIELD, {string.Join(", ", s_conditionKeys)})");
    }

    /// <summary>A string, or a non-empty array of strings.</summary>
    private static string[] Strings(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            return [e.GetString()!];
        }

        if (e.ValueKind != JsonValueKind.Array)
        {
            throw Fault(path, "must be a string or an array of strings");
        }

        var values = e.EnumerateArray().Select((v, i) => v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Fault($"{path}[{i}]", "must be a string")).ToArray();
        return values.Length > 0 ? values : throw Fault(path, "must not be empty");
    }

    private static string RequireString(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Fault(path, "must be a string");

    private static void RequireObject(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Fault(path, "must be an object");
        }
    }

    private static KeyStoreException Fault(string path, string what) => new(KeyStoreErrors.MalformedPolicyDocument, $"{Clip(path, 256)}: {what}.");

    /// <summary>
    /// A value from the document as a message quotes it: cut short, since the message goes into the audit
    /// record of the refusal, which must not carry the document itself.
    /// </summary>
    private static string Clip(string value, int max = 64) => value.Length <= max ? value : string.Concat(value.AsSpan(0, max), "...");
}
