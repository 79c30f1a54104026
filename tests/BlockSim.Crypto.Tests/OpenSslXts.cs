using System.Runtime.InteropServices;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// Test-only oracle: OpenSSL's EVP aes-256-xts from libcrypto.so.3, an implementation that shares no code
/// with ours. (The openssl command line refuses XTS, so the library is called directly.)
/// </summary>
internal static unsafe partial class OpenSslXts
{
    private const string LibCrypto = "libcrypto.so.3";

    public static bool IsAvailable { get; } = NativeLibrary.TryLoad(LibCrypto, out _);

    public static byte[] Encrypt(byte[] key, byte[] tweak, byte[] input) => Crypt(key, tweak, input, encrypt: true);

    public static byte[] Decrypt(byte[] key, byte[] tweak, byte[] input) => Crypt(key, tweak, input, encrypt: false);

    private static byte[] Crypt(byte[] key, byte[] tweak, byte[] input, bool encrypt)
    {
        var output = new byte[input.Length];
        var ctx = EVP_CIPHER_CTX_new();
        if (ctx == 0)
        {
            throw new InvalidOperationException("EVP_CIPHER_CTX_new failed");
        }

        try
        {
            fixed (byte* k = key)
            fixed (byte* iv = tweak)
            fixed (byte* src = input)
            fixed (byte* dst = output)
            {
                Check(EVP_CipherInit_ex(ctx, EVP_aes_256_xts(), 0, k, iv, encrypt ? 1 : 0), "EVP_CipherInit_ex");
                Check(EVP_CipherUpdate(ctx, dst, out var written, src, input.Length), "EVP_CipherUpdate");
                Check(EVP_CipherFinal_ex(ctx, dst + written, out _), "EVP_CipherFinal_ex");
            }
        }
        finally
        {
            EVP_CIPHER_CTX_free(ctx);
        }

        return output;
    }

    private static void Check(int result, string call)
    {
        if (result != 1)
        {
            throw new InvalidOperationException($"OpenSSL {call} failed");
        }
    }

    [LibraryImport(LibCrypto)]
    private static partial nint EVP_CIPHER_CTX_new();

    [LibraryImport(LibCrypto)]
    private static partial void EVP_CIPHER_CTX_free(nint ctx);

    [LibraryImport(LibCrypto)]
    private static partial nint EVP_aes_256_xts();

    [LibraryImport(LibCrypto)]
    private static partial int EVP_CipherInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv, int enc);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_CipherUpdate(nint ctx, byte* output, out int outputLength, byte* input, int inputLength);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_CipherFinal_ex(nint ctx, byte* output, out int outputLength);
}
