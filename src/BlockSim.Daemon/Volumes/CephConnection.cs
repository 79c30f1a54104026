using System.Text.RegularExpressions;
using BlockSim.Storage.Rbd;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Volumes;

/// <summary>
/// The one connection to the Ceph cluster this process makes, on the first volume named rbd:POOL/IMAGE (a
/// host that names none never loads librados), with one I/O context per pool. Every failure to reach the
/// cluster is a <see cref="VolumeException"/> that says which configuration and client were tried.
/// </summary>
internal sealed partial class CephConnection(string? configurationPath, string? clientName) : IDisposable
{
    public const string DefaultClient = "client.admin";
    private readonly Dictionary<string, RbdPool> _pools = new(StringComparer.Ordinal);
    private RadosConnection? _connection;

    public string Client => clientName ?? DefaultClient;

    /// <summary>Ceph's entity names for clients: client.ID, where ID has no spaces or control characters.</summary>
    public static bool IsClientName(string name) => ClientName().IsMatch(name);

    /// <summary>The pool's I/O context, connecting first if this is the first RBD volume named.</summary>
    public RbdPool Pool(string pool)
    {
        lock (_pools)
        {
            if (_pools.TryGetValue(pool, out var open))
            {
                return open;
            }

            var connection = Connect();
            try
            {
                open = connection.OpenPool(pool);
            }
            catch (RbdException e)
            {
                throw new VolumeException($"Ceph pool {pool}: {e.Message}", e);
            }

            _pools[pool] = open;
            return open;
        }
    }

    public void Dispose()
    {
        lock (_pools)
        {
            foreach (var pool in _pools.Values)
            {
                pool.Dispose();
            }

            _pools.Clear();
            _connection?.Dispose(); // the images opened from it keep it alive until they close
            _connection = null;
        }
    }

    private RadosConnection Connect()
    {
        if (_connection is not null)
        {
            return _connection;
        }

        try
        {
            return _connection = RadosConnection.Connect(configurationPath, Client);
        }
        catch (RbdException e)
        {
            // The message names the configuration and the client already.
            throw new VolumeException($"{e.Message} Check the \"ceph\" section of the configuration (conf, client) or --ceph-conf and --ceph-client.", e);
        }
        catch (DllNotFoundException e)
        {
            throw new VolumeException($"Volumes on RBD need librados and librbd, which are not installed on this host (Debian: apt-get install librbd1).", e);
        }
    }

    [GeneratedRegex(@"^client\.[^\s\p{C}]{1,255}$")]
    private static partial Regex ClientName();
}
