using System.Runtime.InteropServices;

namespace BlockSim.Storage.Rbd.Native;

/// <summary>
/// The librbd calls the device uses, only those librbd 1.16 (Ceph 16, Pacific) has. Every call returns 0
/// (or a count) on success and a negative errno on failure; none throws.
/// </summary>
internal static unsafe partial class Librbd
{
    private const string Library = "librbd.so.1";

    public const int LockModeExclusive = 0;             // RBD_LOCK_MODE_EXCLUSIVE
    public const int WriteZeroesThickProvision = 1;     // RBD_WRITE_ZEROES_FLAG_THICK_PROVISION: stays allocated

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_create(nint ioctx, string name, ulong size, ref int order);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_remove(nint ioctx, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_open(nint ioctx, string name, out nint image, string? snapName);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_open_read_only(nint ioctx, string name, out nint image, string? snapName);

    [LibraryImport(Library)]
    public static partial int rbd_close(nint image);

    [LibraryImport(Library)]
    public static partial int rbd_get_size(nint image, out ulong size);

    [LibraryImport(Library)]
    public static partial int rbd_resize(nint image, ulong size);

    [LibraryImport(Library)]
    public static partial nint rbd_read(nint image, ulong offset, nuint length, byte* buffer);

    [LibraryImport(Library)]
    public static partial nint rbd_write(nint image, ulong offset, nuint length, byte* buffer);

    [LibraryImport(Library)]
    public static partial int rbd_flush(nint image);

    [LibraryImport(Library)]
    public static partial int rbd_lock_acquire(nint image, int lockMode);

    [LibraryImport(Library)]
    public static partial int rbd_lock_release(nint image);

    [LibraryImport(Library)]
    public static partial int rbd_is_exclusive_lock_owner(nint image, out int isOwner);

    /// <summary>rbd_image_spec_t: an image's id and name, strings librbd allocated (freed by rbd_image_spec_list_cleanup).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ImageSpec
    {
        public nint Id;
        public nint Name;
    }

    /// <summary>Fills <paramref name="images"/>; -ERANGE (with the count needed in <paramref name="maxImages"/>) when it is too short.</summary>
    [LibraryImport(Library)]
    public static partial int rbd_list2(nint ioctx, ImageSpec* images, ref nuint maxImages);

    [LibraryImport(Library)]
    public static partial void rbd_image_spec_list_cleanup(ImageSpec* images, nuint count);

    /// <summary>Fills <paramref name="owners"/> with C strings; -ERANGE (with the count needed in <paramref name="maxOwners"/>) when it is too short.</summary>
    [LibraryImport(Library)]
    public static partial int rbd_lock_get_owners(nint image, out int lockMode, nint* owners, ref nuint maxOwners);

    [LibraryImport(Library)]
    public static partial void rbd_lock_get_owners_cleanup(nint* owners, nuint count);

    /// <summary>Takes the lock from its owner and blocklists the owner, so its later writes fail.</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rbd_lock_break(nint image, int lockMode, string owner);

    /// <summary>Reports each extent that holds data (exists 1) or was zeroed (exists 0), whole_object 0: byte ranges, not whole objects.</summary>
    [LibraryImport(Library)]
    public static partial int rbd_diff_iterate2(
        nint image, byte* fromSnapName, ulong offset, ulong length, byte includeParent, byte wholeObject,
        delegate* unmanaged<ulong, nuint, int, nint, int> callback, nint argument);

    [LibraryImport(Library)]
    public static partial int rbd_aio_create_completion(nint argument, delegate* unmanaged<nint, nint, void> callback, out nint completion);

    [LibraryImport(Library)]
    public static partial nint rbd_aio_get_return_value(nint completion);

    [LibraryImport(Library)]
    public static partial void rbd_aio_release(nint completion);

    [LibraryImport(Library)]
    public static partial int rbd_aio_read(nint image, ulong offset, nuint length, byte* buffer, nint completion);

    [LibraryImport(Library)]
    public static partial int rbd_aio_write(nint image, ulong offset, nuint length, byte* buffer, nint completion);

    [LibraryImport(Library)]
    public static partial int rbd_aio_flush(nint image, nint completion);

    [LibraryImport(Library)]
    public static partial int rbd_aio_discard(nint image, ulong offset, ulong length, nint completion);

    [LibraryImport(Library)]
    public static partial int rbd_aio_write_zeroes(nint image, ulong offset, nuint length, nint completion, int zeroFlags, int opFlags);
}
