namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// One run of bytes a crash state puts over the base image: a write's surviving bytes, or zeros left by a
/// trim or write-zeroes (then <see cref="Data"/> is empty).
/// </summary>
public readonly record struct CrashStatePiece(long RequestId, long Offset, long Length, ReadOnlyMemory<byte> Data, bool Zeroes, bool MayDeallocate);
