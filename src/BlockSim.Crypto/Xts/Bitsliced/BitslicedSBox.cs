using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BlockSim.Crypto.Xts.Bitsliced;

/// <summary>
/// The AES S-box and its inverse as Boolean circuits over bit-planes: Boyar and Peralta's depth-16
/// circuit ("A Small Depth-16 Circuit for the AES S-Box", 2012; IACR ePrint 2011/332). A linear top
/// layer (one for each direction), a shared nonlinear middle (the GF(2^4)-based inversion, 32 ANDs),
/// and a linear bottom layer. Gate names follow the paper so the circuit can be checked against it;
/// the tests check it against the S-box computed from its definition for all 256 inputs.
/// U0 is the most significant bit (plane 7), S0/W0 likewise.
/// </summary>
// Every gate is assigned before it is read, so zeroing the (large) frame on each call would be wasted work.
[SkipLocalsInit]
internal static class BitslicedSBox
{
    public static void Forward(ref BitslicedState s)
    {
        var u0 = s.P7; var u1 = s.P6; var u2 = s.P5; var u3 = s.P4;
        var u4 = s.P3; var u5 = s.P2; var u6 = s.P1; var u7 = s.P0;

        Top t;
        t.T1 = u0 ^ u3;
        t.T2 = u0 ^ u5;
        t.T3 = u0 ^ u6;
        t.T4 = u3 ^ u5;
        var t5 = u4 ^ u6;
        t.T6 = t.T1 ^ t5;
        var t7 = u1 ^ u2;
        t.T8 = u7 ^ t.T6;
        t.T9 = u7 ^ t7;
        t.T10 = t.T6 ^ t7;
        var t11 = u1 ^ u5;
        var t12 = u2 ^ u5;
        t.T13 = t.T3 ^ t.T4;
        t.T14 = t.T6 ^ t11;
        t.T15 = t5 ^ t11;
        t.T16 = t5 ^ t12;
        t.T17 = t.T9 ^ t.T16;
        var t18 = u3 ^ u7;
        t.T19 = t7 ^ t18;
        t.T20 = t.T1 ^ t.T19;
        var t21 = u6 ^ u7;
        t.T22 = t7 ^ t21;
        t.T23 = t.T2 ^ t.T22;
        t.T24 = t.T2 ^ t.T10;
        t.T25 = t.T20 ^ t.T17;
        t.T26 = t.T3 ^ t.T16;
        t.T27 = t.T1 ^ t12;
        t.D = u7;

        Middle(ref t, out var m);

        var l0 = m.M61 ^ m.M62;
        var l1 = m.M50 ^ m.M56;
        var l2 = m.M46 ^ m.M48;
        var l3 = m.M47 ^ m.M55;
        var l4 = m.M54 ^ m.M58;
        var l5 = m.M49 ^ m.M61;
        var l6 = m.M62 ^ l5;
        var l7 = m.M46 ^ l3;
        var l8 = m.M51 ^ m.M59;
        var l9 = m.M52 ^ m.M53;
        var l10 = m.M53 ^ l4;
        var l11 = m.M60 ^ l2;
        var l12 = m.M48 ^ m.M51;
        var l13 = m.M50 ^ l0;
        var l14 = m.M52 ^ m.M61;
        var l15 = m.M55 ^ l1;
        var l16 = m.M56 ^ l0;
        var l17 = m.M57 ^ l1;
        var l18 = m.M58 ^ l8;
        var l19 = m.M63 ^ l4;
        var l20 = l0 ^ l1;
        var l21 = l1 ^ l7;
        var l22 = l3 ^ l12;
        var l23 = l18 ^ l2;
        var l24 = l15 ^ l9;
        var l25 = l6 ^ l10;
        var l26 = l7 ^ l9;
        var l27 = l8 ^ l10;
        var l28 = l11 ^ l14;
        var l29 = l11 ^ l17;

        s.P7 = l6 ^ l24;
        s.P6 = ~(l16 ^ l26);
        s.P5 = ~(l19 ^ l28);
        s.P4 = l6 ^ l21;
        s.P3 = l20 ^ l22;
        s.P2 = l25 ^ l29;
        s.P1 = ~(l13 ^ l27);
        s.P0 = ~(l6 ^ l23);
    }

    public static void Inverse(ref BitslicedState s)
    {
        var u0 = s.P7; var u1 = s.P6; var u2 = s.P5; var u3 = s.P4;
        var u4 = s.P3; var u5 = s.P2; var u6 = s.P1; var u7 = s.P0;

        Top t;
        var r5 = u6 ^ u7;
        var r13 = u1 ^ u6;
        var r17 = ~(u2 ^ u5);
        var r18 = ~(u5 ^ u6);
        var r19 = ~(u2 ^ u4);
        t.D = u0 ^ r17;
        t.T23 = u0 ^ u3;
        t.T22 = ~(u1 ^ u3);
        t.T2 = ~(u0 ^ u1);
        t.T1 = u3 ^ u4;
        t.T24 = ~(u4 ^ u7);
        t.T8 = ~(u1 ^ t.T23);
        t.T4 = u4 ^ t.T8;
        t.T3 = t.T1 ^ r5;
        t.T6 = t.T22 ^ r17;
        t.T9 = ~(u7 ^ t.T1);
        t.T10 = t.T2 ^ t.T24;
        t.T13 = t.T2 ^ r5;
        t.T14 = t.T10 ^ r18;
        t.T27 = t.T1 ^ r18;
        t.T15 = t.T10 ^ t.T27;
        t.T16 = r13 ^ r19;
        t.T19 = t.T22 ^ r5;
        t.T17 = ~(u2 ^ t.T19);
        t.T20 = t.T24 ^ r13;
        t.T25 = ~(u2 ^ t.T1);
        t.T26 = t.T3 ^ t.T16;

        Middle(ref t, out var m);

        var p0 = m.M52 ^ m.M61;
        var p1 = m.M58 ^ m.M59;
        var p2 = m.M54 ^ m.M62;
        var p3 = m.M47 ^ m.M50;
        var p4 = m.M48 ^ m.M56;
        var p5 = m.M46 ^ m.M51;
        var p6 = m.M49 ^ m.M60;
        var p7 = p0 ^ p1;
        var p8 = m.M50 ^ m.M53;
        var p9 = m.M55 ^ m.M63;
        var p10 = m.M57 ^ p4;
        var p11 = p0 ^ p3;
        var p12 = m.M46 ^ m.M48;
        var p13 = m.M49 ^ m.M51;
        var p14 = m.M49 ^ m.M62;
        var p15 = m.M54 ^ m.M59;
        var p16 = m.M57 ^ m.M61;
        var p17 = m.M58 ^ p2;
        var p18 = m.M63 ^ p5;
        var p19 = p2 ^ p3;
        var p20 = p4 ^ p6;
        var p22 = p2 ^ p7;
        var p23 = p7 ^ p8;
        var p24 = p5 ^ p7;
        var p25 = p6 ^ p10;
        var p26 = p9 ^ p11;
        var p27 = p10 ^ p18;
        var p28 = p11 ^ p25;
        var p29 = p15 ^ p20;

        s.P7 = p13 ^ p22;
        s.P6 = p26 ^ p29;
        s.P5 = p17 ^ p28;
        s.P4 = p12 ^ p22;
        s.P3 = p23 ^ p27;
        s.P2 = p19 ^ p24;
        s.P1 = p14 ^ p23;
        s.P0 = p9 ^ p16;
    }

    /// <summary>The shared nonlinear layer: inversion in GF(2^8) through GF(2^4), 32 ANDs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Middle(ref Top t, out Bottom b)
    {
        var m1 = t.T13 & t.T6;
        var m2 = t.T23 & t.T8;
        var m3 = t.T14 ^ m1;
        var m4 = t.T19 & t.D;
        var m5 = m4 ^ m1;
        var m6 = t.T3 & t.T16;
        var m7 = t.T22 & t.T9;
        var m8 = t.T26 ^ m6;
        var m9 = t.T20 & t.T17;
        var m10 = m9 ^ m6;
        var m11 = t.T1 & t.T15;
        var m12 = t.T4 & t.T27;
        var m13 = m12 ^ m11;
        var m14 = t.T2 & t.T10;
        var m15 = m14 ^ m11;
        var m16 = m3 ^ m2;
        var m17 = m5 ^ t.T24;
        var m18 = m8 ^ m7;
        var m19 = m10 ^ m15;
        var m20 = m16 ^ m13;
        var m21 = m17 ^ m15;
        var m22 = m18 ^ m13;
        var m23 = m19 ^ t.T25;
        var m24 = m22 ^ m23;
        var m25 = m22 & m20;
        var m26 = m21 ^ m25;
        var m27 = m20 ^ m21;
        var m28 = m23 ^ m25;
        var m29 = m28 & m27;
        var m30 = m26 & m24;
        var m31 = m20 & m23;
        var m32 = m27 & m31;
        var m33 = m27 ^ m25;
        var m34 = m21 & m22;
        var m35 = m24 & m34;
        var m36 = m24 ^ m25;
        var m37 = m21 ^ m29;
        var m38 = m32 ^ m33;
        var m39 = m23 ^ m30;
        var m40 = m35 ^ m36;
        var m41 = m38 ^ m40;
        var m42 = m37 ^ m39;
        var m43 = m37 ^ m38;
        var m44 = m39 ^ m40;
        var m45 = m42 ^ m41;
        b.M46 = m44 & t.T6;
        b.M47 = m40 & t.T8;
        b.M48 = m39 & t.D;
        b.M49 = m43 & t.T16;
        b.M50 = m38 & t.T9;
        b.M51 = m37 & t.T17;
        b.M52 = m42 & t.T15;
        b.M53 = m45 & t.T27;
        b.M54 = m41 & t.T10;
        b.M55 = m44 & t.T13;
        b.M56 = m40 & t.T23;
        b.M57 = m39 & t.T19;
        b.M58 = m43 & t.T3;
        b.M59 = m38 & t.T22;
        b.M60 = m37 & t.T20;
        b.M61 = m42 & t.T1;
        b.M62 = m45 & t.T4;
        b.M63 = m41 & t.T2;
    }

    /// <summary>The top layer's outputs that the middle layer reads.</summary>
    private struct Top
    {
        public Vector256<ulong> T1, T2, T3, T4, T6, T8, T9, T10, T13, T14, T15, T16, T17;
        public Vector256<ulong> T19, T20, T22, T23, T24, T25, T26, T27, D;
    }

    /// <summary>The middle layer's outputs that the bottom layers read.</summary>
    private struct Bottom
    {
        public Vector256<ulong> M46, M47, M48, M49, M50, M51, M52, M53, M54;
        public Vector256<ulong> M55, M56, M57, M58, M59, M60, M61, M62, M63;
    }
}
