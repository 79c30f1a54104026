using BlockSim.Fuzz.Targets;

namespace BlockSim.Fuzz;

/// <summary>Every fuzz target, by name.</summary>
internal static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new NbdHandshakeTarget(),
        new NbdTlsHandshakeTarget(),
        new NbdTransmissionTarget(),
        new VolumeHeaderTarget(),
        new KeyPolicyTarget(),
        new ConfigurationTarget(),
        new AuditLogTarget(),
        new StoreFileTarget(),
        new FaultRuleTarget(),
        new KmipTtlvTarget(),
        new ShapedJsonTarget(new KeyPolicyTarget(), "key-policy.dict"),
        new ShapedJsonTarget(new ConfigurationTarget(), "configuration.dict"),
    ];

    public static IFuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
