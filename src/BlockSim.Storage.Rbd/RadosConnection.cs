using System.Runtime.InteropServices;
using BlockSim.Storage.Rbd.Native;

namespace BlockSim.Storage.Rbd;

/// <summary>
/// A connection to a Ceph cluster through librados: one per process is the usual shape (librados multiplexes
/// every pool and image over it). Pools opened from it keep it alive until they are closed too.
/// </summary>
public sealed class RadosConnection : IDisposable
{
    private readonly RadosClusterHandle _handle;

    private RadosConnection(RadosClusterHandle handle, string clientName)
    {
        _handle = handle;
        ClientName = clientName;
        InstanceId = Rados.rados_get_instance_id(handle.DangerousGetHandle());
        if (Rados.rados_getaddrs(handle.DangerousGetHandle(), out var addresses) == 0)
        {
            Address = Marshal.PtrToStringUTF8(addresses) ?? "";
            Rados.rados_buffer_free(addresses);
        }
    }

    /// <summary>The name it authenticated as ("client.admin").</summary>
    public string ClientName { get; }

    /// <summary>The cluster's id for this connection; lock owners and blocklist entries name it as "client.ID".</summary>
    public ulong InstanceId { get; }

    /// <summary>This session's address ("127.0.0.1:0/NONCE", in brackets with v2: and v1: forms where both are used): what lock owners and blocklist entries name.</summary>
    public string Address { get; } = "";

    internal RadosClusterHandle Handle => _handle;

    /// <summary>
    /// Reads the configuration (<paramref name="configurationPath"/>, or where Ceph looks by default:
    /// $CEPH_CONF, /etc/ceph/ceph.conf, ~/.ceph/config, ./ceph.conf), applies CEPH_ARGS and
    /// <paramref name="settings"/> (Ceph option names, e.g. "rados_osd_op_timeout"), and connects. Blocks
    /// until the monitors answer or client_mount_timeout passes.
    /// </summary>
    public static RadosConnection Connect(string? configurationPath = null, string clientName = "client.admin", IReadOnlyDictionary<string, string>? settings = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clientName);
        var where = configurationPath ?? "the default Ceph configuration ($CEPH_CONF or /etc/ceph/ceph.conf)";
        var result = Rados.rados_create2(out var raw, "ceph", clientName, 0);
        if (result < 0)
        {
            RbdErrors.Throw(result, $"Creating a librados handle for {clientName}");
        }

        var handle = new RadosClusterHandle();
        handle.Set(raw);
        try
        {
            result = Rados.rados_conf_read_file(raw, configurationPath);
            if (result < 0)
            {
                RbdErrors.Throw(result, $"Reading the Ceph configuration from {where}");
            }

            Rados.rados_conf_parse_env(raw, null);
            foreach (var (option, value) in settings ?? new Dictionary<string, string>())
            {
                result = Rados.rados_conf_set(raw, option, value);
                if (result < 0)
                {
                    RbdErrors.Throw(result, $"Setting Ceph option {option} = {value}");
                }
            }

            result = Rados.rados_connect(raw);
            if (result < 0)
            {
                RbdErrors.Throw(result, $"Connecting to the Ceph cluster of {where} as {clientName}");
            }

            return new RadosConnection(handle, clientName);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens an I/O context on a pool (the pool must exist, and for images be initialized with "rbd pool init").</summary>
    public RbdPool OpenPool(string pool)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pool);
        var child = new RadosIoContextHandle();
        child.HoldParent(_handle);
        var result = Rados.rados_ioctx_create(_handle.DangerousGetHandle(), pool, out var raw);
        if (result < 0)
        {
            child.DropParent();
            RbdErrors.Throw(result, $"Opening pool {pool}");
        }

        child.Set(raw);
        return new RbdPool(this, child, pool);
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>A pool of a <see cref="RadosConnection"/>, where images live.</summary>
public sealed class RbdPool : IDisposable
{
    internal RbdPool(RadosConnection connection, RadosIoContextHandle handle, string name)
    {
        Connection = connection;
        Handle = handle;
        Name = name;
    }

    public RadosConnection Connection { get; }

    public string Name { get; }

    internal RadosIoContextHandle Handle { get; }

    /// <summary>The names of the pool's images (rbd ls), in no particular order.</summary>
    public unsafe IReadOnlyList<string> ListImages()
    {
        var capacity = (nuint)64;
        while (true)
        {
            var specs = new Librbd.ImageSpec[(int)capacity];
            var count = capacity;
            fixed (Librbd.ImageSpec* list = specs)
            {
                var result = Librbd.rbd_list2(Handle.DangerousGetHandle(), list, ref count);
                if (result == -Errno.ERANGE && count > capacity)
                {
                    capacity = count;
                    continue;
                }

                if (result < 0)
                {
                    RbdErrors.Throw(result, $"Listing the images of pool {Name}");
                }

                var names = new string[(int)count];
                for (var i = 0; i < names.Length; i++)
                {
                    names[i] = Marshal.PtrToStringUTF8(specs[i].Name) ?? "";
                }

                Librbd.rbd_image_spec_list_cleanup(list, count);
                return names;
            }
        }
    }

    public void Dispose() => Handle.Dispose();
}
