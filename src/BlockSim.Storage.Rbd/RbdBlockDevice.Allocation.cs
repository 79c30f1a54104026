using System.Runtime.InteropServices;
using BlockSim.Storage.Rbd.Native;

namespace BlockSim.Storage.Rbd;

/// <summary>Allocation status from rbd_diff_iterate2 against the image's beginning, at byte (not object) granularity.</summary>
public sealed unsafe partial class RbdBlockDevice
{
    // One query asks about each object in its range (4 MiB each by default), so a long range is answered
    // in parts: callers take fewer bytes described than asked for as "ask again from there".
    private const long MaxAllocationQuery = 256L << 20;

    public int GetAllocation(long offset, long length, Span<BlockExtent> extents)
    {
        CheckRange(offset, length);
        if (length == 0 || extents.IsEmpty)
        {
            return 0;
        }

        length = Math.Min(length, MaxAllocationQuery);
        var found = new DiffExtents();
        var argument = GCHandle.Alloc(found);
        int result;
        try
        {
            var image = Enter();
            try
            {
                result = Librbd.rbd_diff_iterate2(image, null, (ulong)(_start + offset), (ulong)length, 0, 0, &OnDiffExtent, GCHandle.ToIntPtr(argument));
            }
            finally
            {
                _image.DangerousRelease();
            }
        }
        finally
        {
            argument.Free();
        }

        if (result < 0)
        {
            throw RbdErrors.ForRequest(-result, "allocation query", Name, offset, length);
        }

        return found.Describe(_start + offset, length, extents);
    }

    [UnmanagedCallersOnly]
    private static int OnDiffExtent(ulong offset, nuint length, int exists, nint argument)
    {
        try
        {
            ((DiffExtents)GCHandle.FromIntPtr(argument).Target!).Add((long)offset, (long)length, exists != 0);
            return 0;
        }
        catch
        {
            return -Errno.ECANCELED; // stops the iteration with an error instead of letting an exception reach librbd
        }
    }

    /// <summary>
    /// The extents librbd reported, which may arrive from several of its threads and in any order; sorted
    /// and merged afterwards, everything not reported as existing is a hole.
    /// </summary>
    private sealed class DiffExtents
    {
        private readonly List<(long Offset, long Length, bool Exists)> _reported = [];

        public void Add(long offset, long length, bool exists)
        {
            lock (_reported)
            {
                _reported.Add((offset, length, exists));
            }
        }

        /// <summary>Writes the extents from <paramref name="offset"/> on, merged, until the range or <paramref name="extents"/> ends.</summary>
        public int Describe(long offset, long length, Span<BlockExtent> extents)
        {
            _reported.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            var end = offset + length;
            var position = offset;
            var count = 0;
            foreach (var (start, size, exists) in _reported)
            {
                if (!Emit(Math.Min(start, end), Allocation.Hole, extents, ref position, ref count) ||
                    !Emit(Math.Min(end, start + size), exists ? Allocation.Data : Allocation.Hole, extents, ref position, ref count))
                {
                    return count;
                }
            }

            Emit(end, Allocation.Hole, extents, ref position, ref count);
            return count;
        }

        /// <summary>Describes [position, until) as <paramref name="state"/>; false when that needs a new extent and there is no room (the description stops there).</summary>
        private static bool Emit(long until, Allocation state, Span<BlockExtent> extents, ref long position, ref int count)
        {
            if (until <= position)
            {
                return true;
            }

            if (count > 0 && extents[count - 1].State == state)
            {
                extents[count - 1] = extents[count - 1] with { Length = extents[count - 1].Length + (until - position) };
            }
            else if (count < extents.Length)
            {
                extents[count++] = new BlockExtent(until - position, state);
            }
            else
            {
                return false;
            }

            position = until;
            return true;
        }
    }
}
