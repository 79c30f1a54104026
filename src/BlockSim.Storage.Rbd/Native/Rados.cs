using System.Runtime.InteropServices;

namespace BlockSim.Storage.Rbd.Native;

/// <summary>The librados calls a connection needs (librados.h of Ceph 16, library version 3.0).</summary>
internal static partial class Rados
{
    private const string Library = "librados.so.2";

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_create2(out nint cluster, string clusterName, string name, ulong flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_conf_read_file(nint cluster, string? path);

    /// <summary>Applies CEPH_ARGS (with a null variable name), as the ceph tools do.</summary>
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_conf_parse_env(nint cluster, string? variable);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_conf_set(nint cluster, string option, string value);

    [LibraryImport(Library)]
    public static partial int rados_connect(nint cluster);

    [LibraryImport(Library)]
    public static partial void rados_shutdown(nint cluster);

    [LibraryImport(Library)]
    public static partial ulong rados_get_instance_id(nint cluster);

    /// <summary>This session's addresses, as blocklists and lock owners name it; the string is freed with rados_buffer_free.</summary>
    [LibraryImport(Library)]
    public static partial int rados_getaddrs(nint cluster, out nint addresses);

    [LibraryImport(Library)]
    public static partial void rados_buffer_free(nint buffer);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rados_ioctx_create(nint cluster, string poolName, out nint ioctx);

    [LibraryImport(Library)]
    public static partial void rados_ioctx_destroy(nint ioctx);
}
