using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using BlockSim.Crypto.Xts;

namespace BlockSim.Crypto;

/// <summary>
/// XTS-AES-256 (IEEE Std 1619, NIST SP 800-38E) with a 64-byte key: Key1 (bytes 0-31) encrypts the data,
/// Key2 (bytes 32-63) the tweak. Sector methods use the sector number as the tweak, a 128-bit little-endian
/// integer ("plain64", as dm-crypt and LUKS), so any standard XTS implementation can read the result.
/// <para>
/// One instance may be used from many threads at once; it holds only the expanded keys, in native memory
/// that <see cref="Dispose"/> zeroes. Do not dispose while another thread is still using the instance.
/// </para>
/// </summary>
// The tweak and stealing buffers are written before they are read on every path.
[SkipLocalsInit]
public sealed class XtsAes256 : IDisposable
{
    public const int KeySize = 64;
    public const int BlockSize = 16;
    public const int TweakSize = 16;
    public const int MinSectorSize = 512;
    public const int MaxSectorSize = 65536;

    private readonly XtsEngine _engine;
    private bool _disposed;

    /// <summary>Builds an engine on the process-wide tier (<see cref="XtsTiers.Default"/>).</summary>
    public XtsAes256(ReadOnlySpan<byte> key)
        : this(key, XtsTiers.Default)
    {
    }

    /// <summary>Builds an engine on the given tier; throws <see cref="PlatformNotSupportedException"/> if this CPU lacks it.</summary>
    public XtsAes256(ReadOnlySpan<byte> key, XtsTier tier)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException(
                $"XTS-AES-256 needs a {KeySize}-byte key (Key1 || Key2, 32 bytes each); got {key.Length} bytes.", nameof(key));
        }

        // SP 800-38E: Key1 must differ from Key2. Compared in constant time so the check leaks nothing.
        if (CryptographicOperations.FixedTimeEquals(key[..32], key[32..]))
        {
            throw new CryptographicException(
                "Refusing an XTS key whose two halves are equal (Key1 == Key2 makes XTS insecure; SP 800-38E forbids it). " +
                "Generate a fresh random 64-byte key.");
        }

        if (!XtsTiers.IsSupported(tier))
        {
            throw new PlatformNotSupportedException(
                $"The {tier} XTS tier is not available on this machine ({XtsTiers.DescribeCpu()}).");
        }

        _engine = tier switch
        {
            XtsTier.AesNi => new AesNiXtsEngine(key),
            XtsTier.Vaes256 => new VaesXtsEngine(key),
            XtsTier.Vaes256x => new EvexVaesXtsEngine(key, Xts.Vaes.VectorWidth.Bits256),
            XtsTier.Vaes512 => new EvexVaesXtsEngine(key, Xts.Vaes.VectorWidth.Bits512),
            _ => new SoftwareXtsEngine(key),
        };
    }

    /// <summary>The implementation this instance runs on.</summary>
    public XtsTier Tier => _engine.Tier;

    /// <summary>Encrypts whole sectors; sector i of <paramref name="source"/> is number <paramref name="firstSector"/> + i.</summary>
    public void EncryptSectors(ReadOnlySpan<byte> source, Span<byte> destination, ulong firstSector, int sectorSize) =>
        CryptSectors(source, destination, firstSector, sectorSize, decrypt: false);

    /// <summary>Decrypts whole sectors; sector i of <paramref name="source"/> is number <paramref name="firstSector"/> + i.</summary>
    public void DecryptSectors(ReadOnlySpan<byte> source, Span<byte> destination, ulong firstSector, int sectorSize) =>
        CryptSectors(source, destination, firstSector, sectorSize, decrypt: true);

    /// <summary>Encrypts whole sectors in place.</summary>
    public void EncryptSectors(Span<byte> buffer, ulong firstSector, int sectorSize) =>
        CryptSectors(buffer, buffer, firstSector, sectorSize, decrypt: false);

    /// <summary>Decrypts whole sectors in place.</summary>
    public void DecryptSectors(Span<byte> buffer, ulong firstSector, int sectorSize) =>
        CryptSectors(buffer, buffer, firstSector, sectorSize, decrypt: true);

    /// <summary>
    /// Encrypts one data unit of any length of at least 16 bytes under an explicit 16-byte tweak value,
    /// with ciphertext stealing when the length is not a multiple of 16.
    /// </summary>
    public void Encrypt(ReadOnlySpan<byte> source, Span<byte> destination, ReadOnlySpan<byte> tweak) =>
        CryptDataUnit(source, destination, tweak, decrypt: false);

    /// <summary>Decrypts one data unit; the inverse of <see cref="Encrypt"/>.</summary>
    public void Decrypt(ReadOnlySpan<byte> source, Span<byte> destination, ReadOnlySpan<byte> tweak) =>
        CryptDataUnit(source, destination, tweak, decrypt: true);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _engine.Dispose();
        }
    }

    public override string ToString() => $"XtsAes256({Tier})";

    private void CryptSectors(ReadOnlySpan<byte> source, Span<byte> destination, ulong firstSector, int sectorSize, bool decrypt)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sectorSize < MinSectorSize || sectorSize > MaxSectorSize || !BitOperations.IsPow2(sectorSize))
        {
            throw new ArgumentOutOfRangeException(
                nameof(sectorSize), sectorSize, $"The sector size must be a power of two from {MinSectorSize} to {MaxSectorSize} bytes.");
        }

        if (source.Length % sectorSize != 0)
        {
            throw new ArgumentException(
                $"The buffer ({source.Length} bytes) is not a whole number of {sectorSize}-byte sectors.", nameof(source));
        }

        CheckBuffers(source, destination);
        var sectors = (ulong)(source.Length / sectorSize);
        if (sectors > 0 && firstSector > ulong.MaxValue - (sectors - 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(firstSector), firstSector, "The sector numbers run past 2^64 - 1.");
        }

        if (sectors == 1)
        {
            // One sector: nothing to batch, and a tier may overlap the tweak's encryption with its own set-up.
            _engine.CryptBlocksFromTweakValue(source, destination, Vector128.Create(firstSector, 0UL).AsByte(), decrypt);
            return;
        }

        // Each sector's tweak costs one serial AES encryption; encrypting a batch of them together lets the
        // tier overlap those latencies instead of paying one at the start of every sector.
        Span<byte> tweaks = stackalloc byte[XtsEngine.TweakBatch * TweakSize];
        try
        {
            var done = 0;
            while (done < source.Length)
            {
                var batch = Math.Min(XtsEngine.TweakBatch, (source.Length - done) / sectorSize);
                var batchTweaks = tweaks[..(batch * TweakSize)];
                var sector = firstSector + (ulong)(done / sectorSize);
                for (var i = 0; i < batch; i++)
                {
                    var t = batchTweaks.Slice(i * TweakSize, TweakSize);
                    BinaryPrimitives.WriteUInt64LittleEndian(t, sector + (ulong)i);
                    BinaryPrimitives.WriteUInt64LittleEndian(t[8..], 0);
                }

                _engine.EncryptTweaks(batchTweaks);
                for (var i = 0; i < batch; i++, done += sectorSize)
                {
                    var t = Vector128.Create(batchTweaks.Slice(i * TweakSize, TweakSize));
                    if (decrypt)
                    {
                        _engine.DecryptBlocks(source.Slice(done, sectorSize), destination.Slice(done, sectorSize), ref t);
                    }
                    else
                    {
                        _engine.EncryptBlocks(source.Slice(done, sectorSize), destination.Slice(done, sectorSize), ref t);
                    }
                }
            }
        }
        finally
        {
            // Only the part a batch used holds tweaks (a single sector uses 16 of the 256 bytes).
            CryptographicOperations.ZeroMemory(tweaks[..(Math.Min(XtsEngine.TweakBatch, source.Length / sectorSize) * TweakSize)]);
        }
    }

    private void CryptDataUnit(ReadOnlySpan<byte> source, Span<byte> destination, ReadOnlySpan<byte> tweak, bool decrypt)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tweak.Length != TweakSize)
        {
            throw new ArgumentException($"The XTS tweak must be {TweakSize} bytes; got {tweak.Length}.", nameof(tweak));
        }

        if (source.Length < BlockSize)
        {
            throw new ArgumentException(
                $"An XTS data unit must be at least {BlockSize} bytes; got {source.Length}.", nameof(source));
        }

        CheckBuffers(source, destination);
        Span<byte> t = stackalloc byte[TweakSize];
        Span<byte> steal = stackalloc byte[2 * BlockSize];
        try
        {
            tweak.CopyTo(t);
            _engine.EncryptTweaks(t);
            var mask = Vector128.Create(t);
            var tail = source.Length % BlockSize;
            if (tail == 0)
            {
                Blocks(source, destination, ref mask, decrypt);
                return;
            }

            // Ciphertext stealing (IEEE 1619 §5.3.2): the last whole block m-1 and the partial block m are
            // processed as a pair; everything before them is ordinary XTS.
            var head = source.Length - tail - BlockSize;
            Blocks(source[..head], destination[..head], ref mask, decrypt);
            var last = source.Slice(head, BlockSize);
            var partial = source[(head + BlockSize)..];
            var scratch = steal[..BlockSize];
            var merged = steal[BlockSize..];
            if (!decrypt)
            {
                // CC = E(P_{m-1}, T_{m-1}); C_m = CC[..tail]; C_{m-1} = E(P_m || CC[tail..], T_m).
                _engine.EncryptBlocks(last, scratch, ref mask);
                partial.CopyTo(merged);
                scratch[tail..].CopyTo(merged[tail..]);
                scratch[..tail].CopyTo(destination[(head + BlockSize)..]);
                _engine.EncryptBlocks(merged, destination.Slice(head, BlockSize), ref mask);
            }
            else
            {
                // Decryption takes the tweaks the other way round: PP = D(C_{m-1}, T_m), then
                // P_m = PP[..tail] and P_{m-1} = D(C_m || PP[tail..], T_{m-1}).
                var previous = mask;
                var next = Gf128.MulX(mask);
                _engine.DecryptBlocks(last, scratch, ref next);
                partial.CopyTo(merged);
                scratch[tail..].CopyTo(merged[tail..]);
                scratch[..tail].CopyTo(destination[(head + BlockSize)..]);
                _engine.DecryptBlocks(merged, destination.Slice(head, BlockSize), ref previous);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(t);
            CryptographicOperations.ZeroMemory(steal);
        }
    }

    private void Blocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak, bool decrypt)
    {
        if (decrypt)
        {
            _engine.DecryptBlocks(source, destination, ref tweak);
        }
        else
        {
            _engine.EncryptBlocks(source, destination, ref tweak);
        }
    }

    /// <summary>In place (the same memory) or apart; a partial overlap would read bytes already overwritten.</summary>
    private static void CheckBuffers(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length != source.Length)
        {
            throw new ArgumentException(
                $"The destination ({destination.Length} bytes) must be as long as the source ({source.Length} bytes).", nameof(destination));
        }

        if (source.Overlaps(destination, out var offset) && offset != 0)
        {
            throw new ArgumentException(
                "The source and destination overlap partially; use the same buffer (in place) or separate ones.", nameof(destination));
        }
    }
}
