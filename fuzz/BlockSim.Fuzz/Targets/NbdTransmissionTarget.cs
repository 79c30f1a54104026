using System.Buffers.Binary;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The transmission phase: the first input byte chooses structured replies (bit 0) and the base:allocation
/// context (bit 1); a valid handshake attaches "mem"; the rest of the input is the request stream, sent as
/// it is except that each request's cookie is replaced by its number, so replies can be told apart.
/// Checked: every request the server took in whole (up to a disconnect, a request without the magic, or
/// the end) is answered exactly once, and every reply is well framed, answers a request still waiting, and
/// carries exactly the data its READ asked for.
/// </summary>
internal sealed class NbdTransmissionTarget : IFuzzTarget
{
    public string Name => "nbd-transmission";

    public string Description => "NBD request streams against a 1 MiB memory export; replies checked against requests";

    public void Run(ReadOnlySpan<byte> input)
    {
        var mode = input.IsEmpty ? (byte)0 : input[0];
        var structured = (mode & 1) != 0;
        var allocation = structured && (mode & 2) != 0;
        var requests = input.IsEmpty ? [] : input[1..].ToArray();
        var taken = NumberRequests(requests);

        var handshake = Handshake(structured, allocation);
        var output = InMemoryNbdServer.Serve([.. handshake, .. requests], out var complete);
        if (complete)
        {
            CheckReplies(output, SkipHandshake(output), taken, structured);
        }
    }

    /// <summary>Gives each whole request its index as cookie; returns the requests the server will take in whole.</summary>
    private static List<NbdRequest> NumberRequests(Span<byte> stream)
    {
        var taken = new List<NbdRequest>();
        var at = 0;
        while (stream.Length - at >= NbdRequest.Size && BinaryPrimitives.ReadUInt32BigEndian(stream[at..]) == NbdMagic.Request)
        {
            BinaryPrimitives.WriteUInt64BigEndian(stream[(at + 8)..], (ulong)taken.Count);
            var command = (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(stream[(at + 6)..]);
            var flags = (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(stream[(at + 4)..]);
            var offset = BinaryPrimitives.ReadUInt64BigEndian(stream[(at + 16)..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(stream[(at + 24)..]);
            at += NbdRequest.Size;
            if (command == NbdCommand.Disconnect)
            {
                break;
            }

            if (command == NbdCommand.Write)
            {
                if (length > stream.Length - at)
                {
                    break; // its payload never arrives whole
                }

                at += (int)length;
            }

            taken.Add(new NbdRequest(flags, command, (ulong)taken.Count, offset, length));
        }

        return taken;
    }

    private static void CheckReplies(ReadOnlySpan<byte> output, int at, List<NbdRequest> requests, bool structured)
    {
        var waiting = new bool[requests.Count];
        Array.Fill(waiting, true);
        var answered = 0;
        while (at < output.Length)
        {
            var magic = output.Length - at >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(output[at..]) : 0;
            if (magic == NbdMagic.SimpleReply && output.Length - at >= 16)
            {
                var error = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 4)..]);
                var request = Waiting(requests, waiting, BinaryPrimitives.ReadUInt64BigEndian(output[(at + 8)..]), at);
                if (structured && request.Command is NbdCommand.Read or NbdCommand.BlockStatus)
                {
                    throw new FuzzFinding($"a simple reply at {at} to a {request.Command} after structured replies were agreed");
                }

                at += 16;
                if (request.Command == NbdCommand.Read && error == 0)
                {
                    at += Payload(output, at, request.Length);
                }

                Answered(waiting, request, ref answered);
            }
            else if (magic == NbdMagic.StructuredReply && structured && output.Length - at >= 20)
            {
                var flags = BinaryPrimitives.ReadUInt16BigEndian(output[(at + 4)..]);
                var type = BinaryPrimitives.ReadUInt16BigEndian(output[(at + 6)..]);
                var request = Waiting(requests, waiting, BinaryPrimitives.ReadUInt64BigEndian(output[(at + 8)..]), at);
                var length = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 16)..]);
                at += 20;
                if (type == 1 && (length < 8 || length - 8 > request.Length || BinaryPrimitives.ReadUInt64BigEndian(output[at..]) < request.Offset))
                {
                    throw new FuzzFinding($"an OFFSET_DATA chunk at {at - 20} does not lie inside its READ");
                }

                at += Payload(output, at, length);
                if ((flags & 1) != 0)
                {
                    Answered(waiting, request, ref answered);
                }
            }
            else
            {
                throw new FuzzFinding($"bytes at {at} are not a reply");
            }
        }

        if (answered != requests.Count)
        {
            throw new FuzzFinding($"{requests.Count - answered} of {requests.Count} requests were never answered (the first: {Array.IndexOf(waiting, true)})");
        }
    }

    private static NbdRequest Waiting(List<NbdRequest> requests, bool[] waiting, ulong cookie, int at) =>
        cookie < (ulong)requests.Count && waiting[cookie]
            ? requests[(int)cookie]
            : throw new FuzzFinding($"the reply at {at} answers cookie {cookie}, which no request is waiting on");

    private static void Answered(bool[] waiting, NbdRequest request, ref int answered)
    {
        waiting[request.Cookie] = false;
        answered++;
    }

    private static int Payload(ReadOnlySpan<byte> output, int at, uint length) =>
        length <= output.Length - at ? (int)length : throw new FuzzFinding($"a reply says {length} bytes follow at {at}, but the stream ends first");

    /// <summary>Where transmission starts: after the greeting and the option replies up to GO's ACK.</summary>
    private static int SkipHandshake(ReadOnlySpan<byte> output)
    {
        var at = 18;
        while (output.Length - at >= 20)
        {
            var option = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 8)..]);
            var type = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 12)..]);
            at += 20 + (int)BinaryPrimitives.ReadUInt32BigEndian(output[(at + 16)..]);
            if (option == (uint)NbdOption.Go && type == (uint)NbdOptionReplyType.Ack)
            {
                return at;
            }

            if (type >= 0x80000000)
            {
                throw new FuzzFinding($"the fixed handshake was refused ({type:x})");
            }
        }

        throw new FuzzFinding("the fixed handshake did not attach");
    }

    private static byte[] Handshake(bool structured, bool allocation)
    {
        var bytes = new List<byte>(NbdWire.BigEndian((uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)));
        if (structured)
        {
            bytes.AddRange(NbdWire.Option(NbdOption.StructuredReply, []));
        }

        if (allocation)
        {
            bytes.AddRange(NbdWire.Option(NbdOption.SetMetaContext, NbdWire.MetaContexts("mem", "base:allocation")));
        }

        bytes.AddRange(NbdWire.Option(NbdOption.Go, NbdWire.NameAndInfos("mem")));
        return [.. bytes];
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        byte[] write = [.. NbdWire.Request(NbdCommand.Write, NbdCommandFlags.Fua, 4096, 512), .. new byte[512]];
        byte[] mixed =
        [
            .. write,
            .. NbdWire.Request(NbdCommand.Read, NbdCommandFlags.None, 4096, 512),
            .. NbdWire.Request(NbdCommand.Flush, NbdCommandFlags.None, 0, 0),
            .. NbdWire.Request(NbdCommand.Trim, NbdCommandFlags.None, 8192, 4096),
            .. NbdWire.Request(NbdCommand.WriteZeroes, NbdCommandFlags.NoHole, 0, 4096),
            .. NbdWire.Request(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 65536),
            .. NbdWire.Request(NbdCommand.Read, NbdCommandFlags.None, (ulong)InMemoryNbdServer.ExportSize - 512, 1024),
            .. NbdWire.Request(NbdCommand.Cache, NbdCommandFlags.None, 0, 4096),
            .. NbdWire.Request(NbdCommand.Disconnect, NbdCommandFlags.None, 0, 0),
        ];
        yield return ("simple", [0, .. mixed]);
        yield return ("structured", [1, .. mixed]);
        yield return ("structured-allocation", [3, .. mixed]);
    }
}
