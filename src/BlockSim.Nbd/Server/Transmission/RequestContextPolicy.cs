using Microsoft.Extensions.ObjectPool;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// How the pipelined transmission's pool makes and takes back request contexts: each made for its
/// connection (the context is its own thread-pool work item, run by that transmission), and every one
/// taken back, since it is reset before it is returned.
/// </summary>
internal sealed class RequestContextPolicy(PipelinedTransmission owner) : IPooledObjectPolicy<RequestContext>
{
    public RequestContext Create() => new() { Owner = owner };

    public bool Return(RequestContext context) => true;
}
