using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace BlockSim.Daemon.Tests;

/// <summary>The least a client does to attach: greeting, flags, GO for the default export; from a chosen address or a Unix socket.</summary>
internal static class RawAttach
{
    /// <summary>Connects from <paramref name="from"/> (any of 127.0.0.0/8) and sends GO; true when the server answers ACK, false when it closes.</summary>
    public static async Task<bool> TryGoAsync(int port, IPAddress from)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        return await TryGoAsync(socket, new IPEndPoint(IPAddress.Loopback, port));
    }

    /// <summary>The same over a Unix socket.</summary>
    public static async Task<bool> TryGoAsync(string socketPath)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        return await TryGoAsync(socket, new UnixDomainSocketEndPoint(socketPath));
    }

    private static async Task<bool> TryGoAsync(Socket socket, EndPoint server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(server, timeout.Token);
            await using var stream = new NetworkStream(socket);
            await stream.ReadExactlyAsync(new byte[18], timeout.Token);
            var go = new byte[4 + 16 + 6];
            BinaryPrimitives.WriteUInt32BigEndian(go, 3); // FIXED_NEWSTYLE | NO_ZEROES
            BinaryPrimitives.WriteUInt64BigEndian(go.AsSpan(4), 0x49484156454F5054); // IHAVEOPT
            BinaryPrimitives.WriteUInt32BigEndian(go.AsSpan(12), 7); // GO
            BinaryPrimitives.WriteUInt32BigEndian(go.AsSpan(16), 6); // empty name (the default export), no info requests
            await stream.WriteAsync(go, timeout.Token);
            while (true)
            {
                var header = new byte[20];
                await stream.ReadExactlyAsync(header, timeout.Token);
                var type = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
                var data = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16))];
                await stream.ReadExactlyAsync(data, timeout.Token);
                if (type == 1)
                {
                    return true; // ACK: attached
                }

                if (type >= 0x80000000)
                {
                    throw new InvalidOperationException($"GO refused: 0x{type:x} {System.Text.Encoding.UTF8.GetString(data)}");
                }
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or SocketException)
        {
            return false; // closed at once: refused
        }
    }
}
