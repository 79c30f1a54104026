using System.Net.Sockets;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// Who is at the other end of a Unix socket, as the kernel says (SO_PEERCRED: the process, user and group
/// that connected), never as the caller claims.
/// </summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The credentials of <paramref name="socket"/>'s peer; null when the socket is not a connected Unix socket.</summary>
    public static PeerCredentials? Of(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            return null;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) != ucred.Length)
            {
                return null;
            }
        }
        catch (SocketException)
        {
            return null;
        }

        return new PeerCredentials(
            BitConverter.ToInt32(ucred[..4]),
            BitConverter.ToUInt32(ucred[4..8]),
            BitConverter.ToUInt32(ucred[8..12]));
    }

    /// <summary>The principal the key store knows this user as: user:NAME from the account database, or uid:N for a user without an entry.</summary>
    public string Principal => LocalAccounts.UserName(Uid) is { } name ? $"user:{name}" : $"uid:{Uid}";

    /// <summary>How the principal was established, for the audit record.</summary>
    public string Evidence => $"SO_PEERCRED uid={Uid} pid={Pid}";
}
