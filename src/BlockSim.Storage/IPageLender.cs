namespace BlockSim.Storage;

/// <summary>
/// A device that can lend its stored bytes in place, so the layer above (the cipher) decrypts straight out
/// of them and encrypts straight into them: one pass over the data instead of a copy and a pass. A layer
/// between the two lends too, for as long as it has nothing to do to the request (no fault rule, no pause).
/// </summary>
public interface IPageLender
{
    /// <summary>
    /// Begins one request served from lent bytes, or says false when it must go through the device's own
    /// methods. Every true is paired with one <see cref="EndLoan"/>, after the last span is used.
    /// <paramref name="write"/> says whether the request writes (a layer that logs writes lends for reads only).
    /// </summary>
    bool TryBeginLoan(bool write);

    /// <summary>The stored bytes from <paramref name="offset"/>, at most <paramref name="maxLength"/> (at least one sector).</summary>
    ReadOnlySpan<byte> ReadableAt(long offset, int maxLength);

    /// <summary>The storage from <paramref name="offset"/> to write into, at most <paramref name="maxLength"/> (at least one sector).</summary>
    Span<byte> WritableAt(long offset, int maxLength);

    void EndLoan();
}
