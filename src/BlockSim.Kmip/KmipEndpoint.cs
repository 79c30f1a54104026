using System.Globalization;

namespace BlockSim.Kmip;

/// <summary>
/// A KMIP server and how to reach it: mutual TLS, the server's certificate checked against <paramref name="CaFile"/>
/// only, this client's certificate and private key from PEM files (paths; their contents are never kept).
/// </summary>
public sealed record KmipEndpoint(string Host, int Port, string CaFile, string CertificateFile, string KeyFile)
{
    /// <summary>The port KMIP servers listen on by default (IANA).</summary>
    public const int DefaultPort = 5696;

    /// <summary>Parses HOST[:PORT] (an IPv6 address in brackets); a bad one is a <see cref="KmipConfigurationException"/>.</summary>
    public static (string Host, int Port) ParseServer(string server)
    {
        var text = server.Trim();
        string host;
        var port = DefaultPort;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new KmipConfigurationException($"'{server}' is not HOST[:PORT]: an IPv6 address needs its closing ']'.");
            }

            host = text[1..close];
            text = text[(close + 1)..];
            if (text.Length > 0 && (text[0] != ':' || !TryPort(text[1..], out port)))
            {
                throw new KmipConfigurationException($"'{server}' is not HOST[:PORT] with a port from 1 to 65535.");
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            if (colon >= 0 && !TryPort(text[(colon + 1)..], out port))
            {
                throw new KmipConfigurationException($"'{server}' is not HOST[:PORT] with a port from 1 to 65535.");
            }
        }

        return host.Length == 0 ? throw new KmipConfigurationException($"'{server}' names no host: give HOST[:PORT], e.g. kmip.example.com:5696.") : (host, port);
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
