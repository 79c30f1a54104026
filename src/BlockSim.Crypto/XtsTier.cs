namespace BlockSim.Crypto;

/// <summary>An implementation of the XTS-AES-256 engine. Every tier gives bit-identical results.</summary>
public enum XtsTier
{
    /// <summary>Constant-time bitsliced AES on plain vector arithmetic: runs anywhere, the reference for the others.</summary>
    Software,

    /// <summary>The 128-bit AES-NI instructions, twelve blocks in flight.</summary>
    AesNi,

    /// <summary>
    /// VAES and VPCLMULQDQ on 256-bit registers (two blocks per AES instruction, sixteen in flight), in
    /// machine code generated at start-up; AES-NI for tweaks and the blocks after the last group of 16.
    /// </summary>
    Vaes256,

    /// <summary>
    /// VAES and VPCLMULQDQ on 256-bit registers with AVX-512's EVEX encoding (AVX-512VL): 32 registers, so
    /// the round keys stay in registers and eight vectors (sixteen blocks) are in flight.
    /// </summary>
    Vaes256x,

    /// <summary>
    /// VAES and VPCLMULQDQ on 512-bit registers (AVX-512): four blocks per AES instruction, eight vectors
    /// (32 blocks) in flight, round keys in registers.
    /// </summary>
    Vaes512,
}
