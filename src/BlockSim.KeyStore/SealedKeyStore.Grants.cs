namespace BlockSim.KeyStore;

/// <summary>Grants: narrow, revocable permissions such as "the daemon may Decrypt when volumeId = X".</summary>
public sealed partial class SealedKeyStore
{
    public GrantInfo CreateGrant(
        string keyIdOrAlias,
        string grantee,
        IReadOnlyList<string> operations,
        IReadOnlyDictionary<string, string>? encryptionContextEquals,
        KeyRequestContext context,
        string? retiringPrincipal = null,
        IReadOnlyList<string>? clients = null) =>
        Request<GrantInfo>("CreateGrant", context, keyIdOrAlias, encryptionContextEquals, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "CreateGrant", context, null);
            RequireState(key, KeyState.Enabled, KeyState.Disabled);
            CheckOperations(operations);
            var grant = new StoredGrant
            {
                GrantId = Guid.NewGuid().ToString("N"),
                KeyId = key.KeyId,
                Grantee = grantee,
                Operations = [.. operations],
                EncryptionContextEquals = encryptionContextEquals is null ? [] : new Dictionary<string, string>(encryptionContextEquals),
                RetiringPrincipal = retiringPrincipal,
                Clients = clients is null ? [] : [.. clients],
            };
            body.Grants.Add(grant);
            return (grant.ToInfo(), true, key.KeyId, null);
        });

    /// <summary>A grant names exact operations the store checks: a misspelt one would silently grant nothing.</summary>
    private static void CheckOperations(IReadOnlyList<string> operations)
    {
        var unknown = operations.Where(o => !Policies.PolicyActions.Known.Contains(o)).ToList();
        if (operations.Count == 0 || unknown.Count > 0)
        {
            throw new KeyStoreException(
                KeyStoreErrors.Validation,
                $"{(unknown.Count == 0 ? "A grant needs at least one operation" : $"Unknown grant operation {string.Join(", ", unknown.Select(o => $"'{o}'"))}")}; give one or more of {string.Join(", ", Policies.PolicyActions.Known)}.");
        }
    }

    public IReadOnlyList<GrantInfo> ListGrants(string keyIdOrAlias, KeyRequestContext context) =>
        Request<IReadOnlyList<GrantInfo>>("ListGrants", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "ListGrants", context, null);
            return ((IReadOnlyList<GrantInfo>)body.Grants.Where(g => g.KeyId == key.KeyId).Select(g => g.ToInfo()).ToList(), false, key.KeyId, null);
        });

    /// <summary>Retires a grant: allowed to its retiring principal, or to whoever the key policy allows RetireGrant.</summary>
    public void RetireGrant(string grantId, KeyRequestContext context) =>
        Request<bool>("RetireGrant", context, null, null, body =>
        {
            var grant = body.Grants.FirstOrDefault(g => g.GrantId == grantId)
                ?? throw new KeyStoreException(KeyStoreErrors.NotFound, $"There is no grant {grantId}.");
            var key = Find(body, grant.KeyId);
            if (grant.RetiringPrincipal != context.Principal)
            {
                Authorize(body, key, "RetireGrant", context, null);
            }

            body.Grants.Remove(grant);
            return (true, true, key.KeyId, (int?)null);
        });
}
