namespace BlockSim.Storage.Rbd.Volumes;

/// <summary>
/// <c>rbd:POOL/IMAGE</c>, how a volume on an RBD image is named wherever a volume is named (the CLI, the
/// configuration). Pool namespaces and snapshots (<c>POOL/NS/IMAGE</c>, <c>IMAGE@SNAP</c>) are not taken.
/// </summary>
public static class RbdVolumeName
{
    public const string Scheme = "rbd:";

    public static bool IsRbd(string name) => name.StartsWith(Scheme, StringComparison.Ordinal);

    public static string Format(string pool, string image) => $"{Scheme}{pool}/{image}";

    /// <summary>Splits <c>rbd:POOL/IMAGE</c>; anything else is an <see cref="ArgumentException"/> that shows the form.</summary>
    public static (string Pool, string Image) Parse(string name)
    {
        if (!IsRbd(name))
        {
            throw new ArgumentException($"'{name}' is not an RBD volume name: write rbd:POOL/IMAGE, e.g. rbd:rbd/db.");
        }

        var parts = name[Scheme.Length..].Split('/');
        if (parts.Length != 2)
        {
            throw new ArgumentException($"'{name}': write rbd:POOL/IMAGE, e.g. rbd:rbd/db (pool namespaces are not supported).");
        }

        CheckPart(parts[0], "pool", name);
        CheckPart(parts[1], "image", name);
        return (parts[0], parts[1]);
    }

    internal static void CheckPart(string part, string what, string? name = null)
    {
        var problem = string.IsNullOrEmpty(part) ? "is empty"
            : part.Contains('@') ? "contains '@' (snapshots are not volumes)"
            : part.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '/') ? "contains a space, '/' or a control character"
            : part.Length > 255 ? "is longer than 255 characters"
            : null;
        if (problem is not null)
        {
            throw new ArgumentException($"{(name is null ? "The RBD" : $"'{name}': the")} {what} name {problem}; write rbd:POOL/IMAGE, e.g. rbd:rbd/db.");
        }
    }
}
