namespace BlockSim.KeyStore;

/// <summary>For tests only (internal): states of the store that only an older BlockSim could have written.</summary>
public sealed partial class SealedKeyStore
{
    /// <summary>
    /// Stores <paramref name="policyJson"/> as the key's policy without parsing or auditing it, as a store written
    /// before strict policy parsing may hold it; with <paramref name="forgetCreator"/>, also without the key's
    /// recorded creator, as in keys made before <see cref="MasterKey.CreatedBy"/> existed.
    /// </summary>
    internal void StorePolicyAsAnOlderVersionMight(string keyIdOrAlias, string policyJson, bool forgetCreator)
    {
        using (Lock())
        {
            var body = Load();
            var key = Find(body, keyIdOrAlias);
            key.Policy = policyJson;
            if (forgetCreator)
            {
                key.CreatedBy = null;
            }

            Save(body);
        }
    }
}
