namespace BlockSim.Nbd.Exports;

/// <summary>
/// Why an export refuses a client, in two parts: <see cref="ClientMessage"/> travels to the client in the
/// NBD error reply, so it says what kind of refusal it is and nothing about the server (no file paths,
/// process ids, key or volume ids); <see cref="Detail"/> goes to the server log only, for the operator.
/// </summary>
public sealed record NbdRefusal(string ClientMessage, string Detail)
{
    /// <summary>A refusal whose reason is safe for the client to read as it stands.</summary>
    public static NbdRefusal Plain(string message) => new(message, message);

    // Never the detail: a refusal is shown to clients only through ClientMessage.
    public override string ToString() => ClientMessage;
}
