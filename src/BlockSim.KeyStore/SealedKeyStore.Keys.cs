namespace BlockSim.KeyStore;

/// <summary>Key management: create, describe, enable, disable, schedule and cancel deletion, rotate, aliases (policies: SealedKeyStore.Policies.cs).</summary>
public sealed partial class SealedKeyStore
{
    public const int MinimumDeletionDays = 7;
    public const int MaximumDeletionDays = 30;

    /// <summary>Creates a customer-managed key; its creator becomes its administrator (the default policy).</summary>
    public KeyDescription CreateKey(string description, KeyRequestContext context, string? alias = null) =>
        Request<KeyDescription>("CreateKey", context, null, null, body =>
        {
            if (alias is not null)
            {
                CheckAliasFree(body, alias);
            }

            var key = NewKey(context.Principal, description, alias is null ? [] : [alias]);
            body.Keys.Add(key);
            return (key.Describe(), true, key.KeyId, 1);
        });

    public KeyDescription DescribeKey(string keyIdOrAlias, KeyRequestContext context) =>
        Request<KeyDescription>("DescribeKey", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "DescribeKey", context, null);
            return (key.Describe(), false, key.KeyId, null);
        });

    /// <summary>Every key, for listings; key management permissions are checked per key by the other calls.</summary>
    public IReadOnlyList<KeyDescription> ListKeys(KeyRequestContext context) =>
        Request<IReadOnlyList<KeyDescription>>("ListKeys", context, null, null, body => ((IReadOnlyList<KeyDescription>)body.Keys.Select(k => k.Describe()).ToList(), false, null, null));

    public KeyDescription EnableKey(string keyIdOrAlias, KeyRequestContext context) =>
        ChangeState("EnableKey", keyIdOrAlias, context, key =>
        {
            RequireState(key, KeyState.Enabled, KeyState.Disabled);
            key.State = KeyState.Enabled;
        });

    public KeyDescription DisableKey(string keyIdOrAlias, KeyRequestContext context) =>
        ChangeState("DisableKey", keyIdOrAlias, context, key =>
        {
            RequireState(key, KeyState.Enabled, KeyState.Disabled);
            key.State = KeyState.Disabled;
        });

    /// <summary>Schedules destruction after a waiting period of 7 to 30 days (default 30); cancellable until then.</summary>
    public KeyDescription ScheduleKeyDeletion(string keyIdOrAlias, KeyRequestContext context, int pendingWindowDays = MaximumDeletionDays)
    {
        if (pendingWindowDays is < MinimumDeletionDays or > MaximumDeletionDays)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"The waiting period must be {MinimumDeletionDays} to {MaximumDeletionDays} days; got {pendingWindowDays}.");
        }

        return ChangeState("ScheduleKeyDeletion", keyIdOrAlias, context, key =>
        {
            RequireState(key, KeyState.Enabled, KeyState.Disabled);
            key.State = KeyState.PendingDeletion;
            key.DeletionDate = _time.GetUtcNow().AddDays(pendingWindowDays);
        });
    }

    /// <summary>Cancels a scheduled deletion; the key comes back Disabled, as in cloud KMSes.</summary>
    public KeyDescription CancelKeyDeletion(string keyIdOrAlias, KeyRequestContext context) =>
        ChangeState("CancelKeyDeletion", keyIdOrAlias, context, key =>
        {
            RequireState(key, KeyState.PendingDeletion);
            key.State = KeyState.Disabled;
            key.DeletionDate = null;
        });

    /// <summary>
    /// Adds a new key-material version; new data keys use it, old versions stay for decrypting. Data already
    /// encrypted is not touched: volume keys move to the new version with <see cref="ReEncrypt"/>.
    /// </summary>
    public KeyDescription RotateKey(string keyIdOrAlias, KeyRequestContext context, int? minimumDecryptVersion = null) =>
        ChangeState("RotateKey", keyIdOrAlias, context, key =>
        {
            RequireState(key, KeyState.Enabled);
            var version = key.Versions.Max(v => v.Version) + 1;
            if (minimumDecryptVersion is < 1 || minimumDecryptVersion > version)
            {
                // Never clamped: a minimum past the new version would refuse every Decrypt, one below 1 means nothing.
                throw new KeyStoreException(KeyStoreErrors.Validation, $"minimum decryption version {minimumDecryptVersion}: give 1 to {version} (the new version); nothing was changed.");
            }

            key.Versions.Add(NewMaterial(key.KeyId, version));
            if (minimumDecryptVersion is { } minimum)
            {
                key.MinimumDecryptVersion = minimum;
            }
        });

    public void CreateAlias(string alias, string keyIdOrAlias, KeyRequestContext context) =>
        ChangeState("CreateAlias", keyIdOrAlias, context, key => key.Aliases.Add(alias), body => CheckAliasFree(body, alias));

    private KeyDescription ChangeState(string action, string keyIdOrAlias, KeyRequestContext context, Action<MasterKey> change, Action<StoreBody>? check = null) =>
        Request<KeyDescription>(action, context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, action, context, null);
            check?.Invoke(body);
            change(key);
            return (key.Describe(), true, key.KeyId, null);
        });

    private static void CheckAliasFree(StoreBody body, string alias)
    {
        if (!alias.StartsWith("alias/", StringComparison.Ordinal) || alias.Length > 256)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"Aliases start with 'alias/' (got '{alias}').");
        }

        if (body.Keys.Any(k => k.Aliases.Contains(alias)))
        {
            throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"The alias {alias} is already taken.");
        }
    }
}
