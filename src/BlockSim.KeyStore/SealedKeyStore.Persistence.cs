using System.Security.Cryptography;
using System.Text.Json;
using BlockSim.KeyStore.Sealing;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore;

/// <summary>Reading and writing the store's copies on its medium, and the lock that keeps writers apart.</summary>
public sealed partial class SealedKeyStore
{
    /// <summary>A copy as a store file, or null when it is missing or does not parse (its MAC unchecked).</summary>
    private static StoreFile? Parse(StoreCopy copy)
    {
        if (copy.Bytes is not { } bytes)
        {
            return null;
        }

        try
        {
            var file = JsonSerializer.Deserialize<StoreFile>(bytes, StoreFile.Json);
            return file?.Format == StoreFile.CurrentFormat && file.Slots.Count > 0 ? file : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The copies a medium keeps, named for a message that none is readable.</summary>
    private static string DescribeCopies(IKeyStoreMedium medium)
    {
        var names = medium.ReadCopies().Select(c => Path.GetFileName(c.Name)).ToList();
        return names.Count == 1 ? $"{names[0]} is missing or unreadable" : $"none of {string.Join(", ", names)} is readable";
    }

    private bool MacMatches(StoreFile file) =>
        CryptographicOperations.FixedTimeEquals(file.Mac, HMACSHA256.HashData(_bodyMacKey, file.Body));

    /// <summary>The copies that parse (their MACs unchecked), the one to trust first first.</summary>
    private List<StoreFile> ReadCopies() => [.. _medium.ReadCopies().Select(Parse).OfType<StoreFile>()];

    /// <summary>
    /// Reads the newest copy whose MAC verifies; a bad copy is skipped (the next save repairs it). When
    /// neither verifies, another process may have re-keyed the store (a destruction): the root is followed
    /// with what this process holds (<see cref="FollowReKey"/>) before the store is called damaged. The slots
    /// and the audit key come from the copy read, so a save never writes back slots another process replaced.
    /// </summary>
    private StoreBody Load()
    {
        var (body, file) = LoadVerified();
        if (body is null && FollowReKey())
        {
            (body, file) = LoadVerified();
        }

        if (body is null)
        {
            throw new KeyStoreException(
                KeyStoreErrors.StoreDamaged,
                $"No copy of the key store in {_medium.Location} verifies (damaged or tampered with); restore one from a backup.");
        }

        _slots = file!.Slots;
        LoadAuditKey(body);
        return body;
    }

    private (StoreBody? Body, StoreFile? File) LoadVerified()
    {
        StoreBody? best = null;
        StoreFile? bestFile = null;
        foreach (var file in ReadCopies())
        {
            if (!MacMatches(file))
            {
                continue;
            }

            var body = JsonSerializer.Deserialize<StoreBody>(file.Body, StoreFile.Json)!;
            if (best is null || body.Sequence > best.Sequence)
            {
                best = body;
                bestFile = file;
            }
        }

        return (best, bestFile);
    }

    /// <summary>
    /// The audit MAC key: sealed in the body, or, in a store written before re-keying existed, derived from
    /// the root as it was then (the next save seals that derived key, so its old records keep verifying
    /// after a re-key replaces the root).
    /// </summary>
    private void LoadAuditKey(StoreBody body)
    {
        if (body.AuditKey is { } sealedKey)
        {
            sealedKey.Unseal(_root, AuditKeyPurpose, _auditMacKey);
        }
        else
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, _root, _auditMacKey, [], "blocksim-keystore-audit-mac"u8);
        }
    }

    private static ReadOnlySpan<byte> AuditKeyPurpose => "blocksim-audit-mac-key"u8;

    /// <summary>
    /// Writes the store to its medium (a directory: the primary, then the backup) with the next sequence number: under
    /// this process's root, or, for a re-key, sealed for the plan's slots and MAC'd under its new root.
    /// </summary>
    private void Save(StoreBody body, ReKeyPlan? rekey = null)
    {
        body.Sequence++;
        body.AuditKey ??= SealedSecret.Seal(_auditMacKey, _root, AuditKeyPurpose);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, StoreFile.Json);
        var file = new StoreFile { Slots = rekey?.Slots ?? _slots, Body = bytes, Mac = HMACSHA256.HashData(rekey?.BodyMacKey ?? _bodyMacKey, bytes) };
        var serialized = JsonSerializer.SerializeToUtf8Bytes(file, StoreFile.Json);
        _medium.WriteStore(serialized, CrashPoint);
    }

    /// <summary>The store's lock: in this process a semaphore, across processes (and hosts) the medium's.</summary>
    private IDisposable Lock(bool exclusive = false)
    {
        _inProcess.Wait();
        try
        {
            return new Releaser(_medium.Lock(exclusive), _inProcess);
        }
        catch
        {
            _inProcess.Release();
            throw;
        }
    }

    private sealed class Releaser(IDisposable held, SemaphoreSlim gate) : IDisposable
    {
        public void Dispose()
        {
            held.Dispose();
            gate.Release();
        }
    }
}
