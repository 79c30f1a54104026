namespace BlockSim.KeyStore.Audit;

/// <summary>
/// What <c>audit verify</c> found: <see cref="Problems"/> (empty when the log is intact: chain, head and the
/// store's anchor agree), <see cref="Notes"/> (states a crash or a failed write leaves, which are not
/// tampering, e.g. records after the anchor), and how many records the log holds.
/// </summary>
public sealed record AuditVerification(IReadOnlyList<string> Problems, long Records, IReadOnlyList<string> Notes)
{
    public void Deconstruct(out IReadOnlyList<string> problems, out long records)
    {
        problems = Problems;
        records = Records;
    }

    /// <summary>"record 5" or "records 5..7".</summary>
    internal static string Range(long first, long last) => first == last ? $"record {first}" : $"records {first}..{last}";
}
