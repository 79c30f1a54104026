using System.Text.Json;
using BlockSim.Daemon.Admin;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// A fault rule as the control API receives it (JSON from the admin socket): parsed, turned into a rule,
/// added to an export's control, then a few requests run through the controlled device. Checked: a bad rule
/// is refused with a JsonException or an ArgumentException that says why; an accepted rule lies on the
/// device; the requests fail, if at all, only with the simulated fault, and never hang.
/// </summary>
internal sealed class FaultRuleTarget : IFuzzTarget
{
    private const int Sector = 512;
    private const long Capacity = 1 << 20;

    public string Name => "fault-rule";

    public string Description => "control-API fault rules (JSON); refused with a reason, or applied with only simulated failures";

    public void Run(ReadOnlySpan<byte> input)
    {
        FaultRule rule;
        var control = new SimulationControl(seed: 1, Sector, Capacity);
        try
        {
            var request = JsonSerializer.Deserialize<FaultRuleRequest>(input, AdminJson.Options) ?? new FaultRuleRequest();
            (rule, _) = control.Add(request.ToRule(Sector));
        }
        catch (Exception e) when (e is JsonException or ArgumentException && e.Message.Length > 0)
        {
            return; // refused, with a reason
        }

        if (rule.FirstSector < 0 || rule.LastSector >= Capacity / Sector || rule.LastSector < rule.FirstSector)
        {
            throw new FuzzFinding($"accepted a rule off the device: sectors {rule.FirstSector}..{rule.LastSector}");
        }

        if (rule.Kind == FaultKind.Stall)
        {
            return; // a stall is meant to take its time
        }

        using var device = new ControlledDevice(new MemoryBlockDevice(Capacity), control);
        var buffer = new byte[4096];
        foreach (var offset in new long[] { 0, rule.FirstSector * Sector, Math.Min(rule.LastSector * Sector, Capacity - 4096), Capacity - 4096 })
        {
            Survive(() => device.WriteAsync(offset, buffer));
            Survive(() => device.ReadAsync(offset, buffer));
            Survive(() => device.WriteZeroesAsync(offset, 4096, mayDeallocate: true));
            Survive(() => device.TrimAsync(offset, 4096));
        }

        Survive(() => device.FlushAsync());
    }

    private static void Survive(Func<ValueTask> request)
    {
        Task task;
        try
        {
            task = request().AsTask();
        }
        catch (InjectedFaultException)
        {
            return; // the simulated fault, thrown before the request began
        }

        try
        {
            if (!task.Wait(TimeSpan.FromSeconds(5)))
            {
                throw new FuzzFinding("a request under a fault rule did not finish");
            }
        }
        catch (AggregateException e) when (e.InnerExceptions is [InjectedFaultException])
        {
            // the simulated fault: what the rule is for
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return ("error", """{"kind":"error","operations":["read","write"],"firstSector":8,"lastSector":15,"errno":"ENOSPC"}"""u8.ToArray());
        yield return ("latent", """{"kind":"latent","firstSector":100}"""u8.ToArray());
        yield return ("bytes", """{"kind":"lost-write","offset":4096,"length":8192,"count":1}"""u8.ToArray());
        yield return ("flip", """{"kind":"bit-flip","operations":["read"],"probability":0.5,"nth":2}"""u8.ToArray());
        yield return ("misdirect", """{"kind":"misdirect","shiftSectors":-64}"""u8.ToArray());
    }
}
