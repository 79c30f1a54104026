using System.Buffers.Binary;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The fixed-newstyle handshake: the input is what a client sends after the greeting (client flags, then
/// options). Checked: the greeting is right, and option replies stay in step with the options: every reply
/// is well framed and answers the option being handled, which ends with ACK or an error; nothing else is
/// sent until an option ends the handshake.
/// </summary>
internal sealed class NbdHandshakeTarget : IFuzzTarget
{
    public string Name => "nbd-handshake";

    public string Description => "NBD option haggling (client flags, then options) against an in-memory server";

    public void Run(ReadOnlySpan<byte> input)
    {
        var output = InMemoryNbdServer.Serve(input, out _);
        var options = ClientOptions(input);
        CheckReplies(output, options);
    }

    /// <summary>The option codes the client sent from <paramref name="at"/> on (past the client flags), in order, as far as they are framed right.</summary>
    internal static List<uint> ClientOptions(ReadOnlySpan<byte> input, int at = 4)
    {
        var codes = new List<uint>();
        while (input.Length - at >= 16 && BinaryPrimitives.ReadUInt64BigEndian(input[at..]) == NbdMagic.IHaveOpt)
        {
            codes.Add(BinaryPrimitives.ReadUInt32BigEndian(input[(at + 8)..]));
            var length = BinaryPrimitives.ReadUInt32BigEndian(input[(at + 12)..]);
            if (length > input.Length - at - 16)
            {
                break;
            }

            at += 16 + (int)length;
        }

        return codes;
    }

    private static void CheckReplies(ReadOnlySpan<byte> output, List<uint> options)
    {
        CheckGreeting(output);
        CheckOptionReplies(output, 18, options);
    }

    internal static void CheckGreeting(ReadOnlySpan<byte> output)
    {
        if (output.Length < 18 || BinaryPrimitives.ReadUInt64BigEndian(output) != NbdMagic.Init || BinaryPrimitives.ReadUInt64BigEndian(output[8..]) != NbdMagic.IHaveOpt)
        {
            throw new FuzzFinding("the greeting is missing or wrong");
        }
    }

    /// <summary>Every reply from <paramref name="at"/> on is well framed and answers the option being handled, until one ends the haggling.</summary>
    internal static void CheckOptionReplies(ReadOnlySpan<byte> output, int at, List<uint> options)
    {
        var answering = 0;
        while (at < output.Length)
        {
            if (answering < options.Count && options[answering] == (uint)NbdOption.ExportName)
            {
                return; // EXPORT_NAME is answered with the export's size and flags, no reply header
            }

            if (output.Length - at < 20 || BinaryPrimitives.ReadUInt64BigEndian(output[at..]) != NbdMagic.OptionReply)
            {
                throw new FuzzFinding($"bytes at {at} are not an option reply");
            }

            var option = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 8)..]);
            var type = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 12)..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(output[(at + 16)..]);
            if (answering >= options.Count || option != options[answering])
            {
                throw new FuzzFinding($"a reply at {at} answers option {option}, but the option being handled is {(answering < options.Count ? options[answering] : "none")}");
            }

            if (length > output.Length - at - 20)
            {
                throw new FuzzFinding($"the reply at {at} says {length} bytes follow, but the stream ends first");
            }

            at += 20 + (int)length;
            if (type == (uint)NbdOptionReplyType.Ack || type >= 0x80000000)
            {
                if (type == (uint)NbdOptionReplyType.Ack && option is (uint)NbdOption.Go or (uint)NbdOption.Abort)
                {
                    return; // transmission (or the end) follows
                }

                answering++;
            }
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        byte[] flags = [0, 0, 0, 3];
        yield return ("go-structured", [.. flags, .. NbdWire.Option(NbdOption.StructuredReply, []), .. NbdWire.Option(NbdOption.Go, NbdWire.NameAndInfos("mem", 0, 1, 2, 3))]);
        yield return ("list-info-abort", [.. flags, .. NbdWire.Option(NbdOption.List, []), .. NbdWire.Option(NbdOption.Info, NbdWire.NameAndInfos("", 3)), .. NbdWire.Option(NbdOption.Abort, [])]);
        yield return ("meta-contexts", [.. flags, .. NbdWire.Option(NbdOption.StructuredReply, []), .. NbdWire.Option(NbdOption.ListMetaContext, NbdWire.MetaContexts("mem", "base:")), .. NbdWire.Option(NbdOption.SetMetaContext, NbdWire.MetaContexts("mem", "base:allocation"))]);
        yield return ("starttls-unknown-export-name", [.. flags, .. NbdWire.Option(NbdOption.StartTls, []), .. NbdWire.Option((NbdOption)99, [1, 2]), .. NbdWire.Option(NbdOption.ExportName, "mem"u8.ToArray())]);
    }
}
