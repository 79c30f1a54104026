using System.Net.Security;
using System.Buffers.Binary;
using System.Text;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Client;

public sealed partial class NbdClient
{
    private bool _serverNoZeroes;

    private async Task GreetAsync(CancellationToken cancellationToken)
    {
        var greeting = new byte[18];
        await _reader.ReadExactlyAsync(greeting, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt64BigEndian(greeting) != NbdMagic.Init || BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)) != NbdMagic.IHaveOpt)
        {
            throw new IOException("The peer is not a fixed-newstyle NBD server (wrong greeting).");
        }

        var serverFlags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16));
        _serverNoZeroes = (serverFlags & NbdHandshakeFlags.NoZeroes) != 0;
        var clientFlags = NbdClientFlags.FixedNewstyle | (_serverNoZeroes ? NbdClientFlags.NoZeroes : 0);
        var flags = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(flags, (uint)clientFlags);
        await _stream.WriteAsync(flags, cancellationToken).ConfigureAwait(false);
    }

    private async Task HandshakeAsync(NbdClientOptions options, CancellationToken cancellationToken)
    {
        await GreetAsync(cancellationToken).ConfigureAwait(false);
        if (options.Tls is { } tls)
        {
            await StartTlsAsync(tls, cancellationToken).ConfigureAwait(false);
        }

        if (options.StructuredReplies)
        {
            await SendOptionAsync(NbdOption.StructuredReply, [], cancellationToken).ConfigureAwait(false);
            var (type, _) = await ReadOptionReplyAsync(NbdOption.StructuredReply, cancellationToken).ConfigureAwait(false);
            StructuredReplies = type == NbdOptionReplyType.Ack;
        }

        var name = Encoding.UTF8.GetBytes(options.ExportName);
        if (options.AllocationContext && StructuredReplies)
        {
            var query = Encoding.UTF8.GetBytes(NbdLimits.AllocationContext);
            var payload = new byte[4 + name.Length + 4 + 4 + query.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
            name.CopyTo(payload, 4);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4 + name.Length), 1);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(8 + name.Length), (uint)query.Length);
            query.CopyTo(payload, 12 + name.Length);
            await SendOptionAsync(NbdOption.SetMetaContext, payload, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                var (type, _) = await ReadOptionReplyAsync(NbdOption.SetMetaContext, cancellationToken).ConfigureAwait(false);
                if (type == NbdOptionReplyType.MetaContext)
                {
                    AllocationContext = true;
                }
                else
                {
                    break;
                }
            }
        }

        var go = new byte[4 + name.Length + 2 + 2];
        BinaryPrimitives.WriteUInt32BigEndian(go, (uint)name.Length);
        name.CopyTo(go, 4);
        BinaryPrimitives.WriteUInt16BigEndian(go.AsSpan(4 + name.Length), 1);
        BinaryPrimitives.WriteUInt16BigEndian(go.AsSpan(6 + name.Length), (ushort)NbdInfoType.BlockSize);
        await SendOptionAsync(NbdOption.Go, go, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var (type, data) = await ReadOptionReplyAsync(NbdOption.Go, cancellationToken).ConfigureAwait(false);
            if (type == NbdOptionReplyType.Ack)
            {
                return;
            }

            if ((uint)type >= 0x80000000)
            {
                throw new NbdClientException(NbdError.Invalid, $"The server refused export '{options.ExportName}': {type} {Encoding.UTF8.GetString(data)}");
            }

            var info = (NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(data);
            if (info == NbdInfoType.Export)
            {
                Size = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                Flags = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
            else if (info == NbdInfoType.BlockSize)
            {
                PreferredBlockSize = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(6));
            }
        }
    }

    /// <summary>NBD_OPT_STARTTLS, then the TLS handshake over the same socket.</summary>
    private async Task StartTlsAsync(SslClientAuthenticationOptions tls, CancellationToken cancellationToken)
    {
        await SendOptionAsync(NbdOption.StartTls, [], cancellationToken).ConfigureAwait(false);
        var (type, data) = await ReadOptionReplyAsync(NbdOption.StartTls, cancellationToken).ConfigureAwait(false);
        if (type != NbdOptionReplyType.Ack)
        {
            throw new NbdClientException(NbdError.Invalid, $"The server refused STARTTLS: {type} {Encoding.UTF8.GetString(data)}");
        }

        var secure = new SslStream(_stream, leaveInnerStreamOpen: false);
        try
        {
            await secure.AuthenticateAsClientAsync(tls, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await secure.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _stream = secure;
        _reader = new BufferedStream(secure, 64 * 1024);
    }

    private async Task SendOptionAsync(NbdOption option, byte[] payload, CancellationToken cancellationToken)
    {
        var message = new byte[16 + payload.Length];
        BinaryPrimitives.WriteUInt64BigEndian(message, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(12), (uint)payload.Length);
        payload.CopyTo(message, 16);
        await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<(NbdOptionReplyType Type, byte[] Data)> ReadOptionReplyAsync(NbdOption option, CancellationToken cancellationToken)
    {
        var header = new byte[20];
        await _reader.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.OptionReply || BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)) != (uint)option)
        {
            throw new IOException($"Malformed reply to option {option}.");
        }

        var type = (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        var data = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16))];
        await _reader.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
        return (type, data);
    }
}
