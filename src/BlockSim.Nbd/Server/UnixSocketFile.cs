using System.Net.Sockets;

namespace BlockSim.Nbd.Server;

/// <summary>What a listener may do with a file already at its Unix socket's path.</summary>
public static class UnixSocketFile
{
    /// <summary>
    /// A socket file left by a server that died can be replaced; a live server's socket, or a regular file
    /// with contents, cannot: both are refused with an IOException naming the path.
    /// </summary>
    public static void RemoveStale(string path)
    {
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"Cannot listen on {path}: another server is listening there.");
            }
            catch (SocketException)
            {
                // Nobody answers: stale.
            }
        }

        if (new FileInfo(path).Length != 0)
        {
            throw new IOException($"Cannot listen on {path}: a regular file is in the way.");
        }

        File.Delete(path);
    }
}
