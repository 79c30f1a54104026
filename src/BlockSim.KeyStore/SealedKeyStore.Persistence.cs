using System.Security.Cryptography;
using System.Text.Json;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Durability;

namespace BlockSim.KeyStore;

/// <summary>Reading and writing the two store copies, and the lock that keeps writers apart.</summary>
public sealed partial class SealedKeyStore
{
    private StoreFile? TryReadFile(string path)
    {
        try
        {
            var file = JsonSerializer.Deserialize<StoreFile>(File.ReadAllBytes(path), StoreFile.Json);
            return file?.Format == StoreFile.CurrentFormat && file.Slots.Count > 0 ? file : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private bool MacMatches(StoreFile file) =>
        CryptographicOperations.FixedTimeEquals(file.Mac, HMACSHA256.HashData(_bodyMacKey, file.Body));

    /// <summary>Both copies that parse (their MACs unchecked), primary first.</summary>
    private List<StoreFile> ReadCopies() =>
        [.. new[] { PrimaryName, BackupName }.Select(name => TryReadFile(Path.Combine(_directory, name))).OfType<StoreFile>()];

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
                $"Neither copy of the key store in {_directory} verifies (damaged or tampered with); restore one from a backup.");
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
    /// Writes the primary, then the backup, each atomically and durably, with the next sequence number: under
    /// this process's root, or, for a re-key, sealed for the plan's slots and MAC'd under its new root.
    /// </summary>
    private void Save(StoreBody body, ReKeyPlan? rekey = null)
    {
        body.Sequence++;
        body.AuditKey ??= SealedSecret.Seal(_auditMacKey, _root, AuditKeyPurpose);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, StoreFile.Json);
        var file = new StoreFile { Slots = rekey?.Slots ?? _slots, Body = bytes, Mac = HMACSHA256.HashData(rekey?.BodyMacKey ?? _bodyMacKey, bytes) };
        var serialized = JsonSerializer.SerializeToUtf8Bytes(file, StoreFile.Json);
        DurableFile.Replace(Path.Combine(_directory, PrimaryName), serialized);
        CrashPoint?.Invoke("primary-written");
        try
        {
            DurableFile.Replace(Path.Combine(_directory, BackupName), serialized);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The primary already holds the change, so it is committed (Load takes the newer copy): say that,
            // rather than an I/O error that would read as "not made".
            throw new BackupWriteFailedException(e);
        }
    }

    /// <summary>The primary was written (the change is committed) but the backup copy was not.</summary>
    private sealed class BackupWriteFailedException(Exception inner) : IOException(inner.Message, inner);

    /// <summary>The store's lock: in this process a semaphore, across processes an exclusive lock file.</summary>
    private IDisposable Lock()
    {
        _inProcess.Wait();
        var path = Path.Combine(_directory, "keystore.lock");
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            try
            {
                var handle = File.Open(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                return new Releaser(handle, _inProcess);
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                Thread.Sleep(20); // another process holds it
            }
            catch
            {
                _inProcess.Release();
                throw;
            }
        }
    }

    private sealed class Releaser(FileStream handle, SemaphoreSlim gate) : IDisposable
    {
        public void Dispose()
        {
            handle.Dispose();
            gate.Release();
        }
    }
}
