using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// Base of the test classes that must hold on both transmission paths: inline (the connection's own thread,
/// the default for exports that complete synchronously, such as the test server's memory exports) and
/// pipelined (requests overlap on the thread pool). Each such class runs once as it is (inline) and once
/// through its <c>Pipelined...</c> subclass below.
/// </summary>
public abstract class TransmissionPathTests
{
    protected virtual bool Inline => true;

    protected TestServer NewServer(NbdServerOptions? options = null, params INbdExport[] extra)
    {
        options ??= new NbdServerOptions();
        options.InlineTransmission = Inline;
        return new TestServer(options, extra);
    }
}

public sealed class PipelinedTransmissionTests : TransmissionTests
{
    protected override bool Inline => false;
}

public sealed class PipelinedConnectionTests : ConnectionTests
{
    protected override bool Inline => false;
}
