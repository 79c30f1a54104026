using System.Text;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Handshake;

/// <summary>LIST_META_CONTEXT and SET_META_CONTEXT; the only context served is base:allocation.</summary>
internal sealed partial class NbdHandshake
{
    private static readonly byte[] s_allocationContext = Encoding.UTF8.GetBytes(NbdLimits.AllocationContext);

    private void MetaContext(NbdOption option, byte[] payload)
    {
        if (option == NbdOption.SetMetaContext && !_negotiated.StructuredReplies)
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_SET_META_CONTEXT needs structured replies first");
            return;
        }

        if (!NbdMetaContextRequest.TryParse(payload, out var request))
        {
            ReplyError(option, NbdOptionReplyType.ErrorInvalid, "malformed meta context request");
            return;
        }

        if (!_exports.TryGet(request.Name, out _))
        {
            ReplyError(option, NbdOptionReplyType.ErrorUnknown, $"there is no export named '{Truncate(request.Name)}'");
            return;
        }

        // LIST with no query lists everything; "base:" asks LIST for every context of that namespace.
        var list = option == NbdOption.ListMetaContext;
        var matches = request.Queries.Count == 0
            ? list
            : request.Queries.Any(q => q == NbdLimits.AllocationContext || (list && q == "base:"));
        if (!list)
        {
            // SET replaces any earlier selection, for this export name.
            _negotiated.SelectAllocationContext(matches ? (request.Name.Length == 0 ? _exports.DefaultName : request.Name) : null);
        }

        if (matches)
        {
            var output = _transport.Output;
            var span = output.GetSpan(NbdOptionReplies.SizeOfMetaContext(s_allocationContext.Length));
            output.Advance(NbdOptionReplies.WriteMetaContext(span, option, NbdSession.AllocationContextId, s_allocationContext));
            Answered(option, NbdOptionReplyType.MetaContext);
        }

        Reply(option, NbdOptionReplyType.Ack);
    }
}
