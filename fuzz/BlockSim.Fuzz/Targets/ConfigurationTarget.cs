using BlockSim.Daemon.Service;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// The daemon's configuration file (JSON), as serve reads it: load and bind, then the checks serve makes
/// before it opens anything (limits into server options, simulation settings of the top level and of each
/// export). Checked: a bad file is refused with a <see cref="ConfigurationProblem"/> that says what is wrong,
/// never another exception.
/// </summary>
internal sealed class ConfigurationTarget : IFuzzTarget
{
    private static readonly string s_path = Path.Combine(FuzzScratch.Directory, "blocksim.json");

    public string Name => "configuration";

    public string Description => "blocksim.json configuration files; refused only with a clear ConfigurationProblem";

    public void Run(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(s_path, input.ToArray());
        try
        {
            var options = DaemonOptions.Load(s_path);
            options.Limits.ToServerOptions();
            CheckSimulation(options.Simulation, "the top level");
            foreach (var (name, export) in options.Exports)
            {
                CheckSimulation(export?.Simulation, $"export '{name}'");
            }
        }
        catch (ConfigurationProblem e) when (e.Message.Length > 0)
        {
            // refused, with a message
        }
    }

    private static void CheckSimulation(SimulationSettings? simulation, string where)
    {
        if (simulation?.Problem(where) is { Length: 0 })
        {
            throw new FuzzFinding($"simulation settings of {where} refused with an empty message");
        }
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return ("full", """
            { "dataDir": "data", "listen": [ "127.0.0.1:10809" ], "socket": "none", "metrics": "127.0.0.1:9187",
              "defaultExport": "db",
              "limits": { "maxConnections": 1024, "maxConnectionsPerAddress": 64, "idleTimeoutSeconds": 0, "handshakeTimeoutSeconds": 30,
                          "maxInFlightRequests": 128, "maxInFlightBytes": "64M", "maxMemory": "1G", "inlineTransmission": true, "inlineSpinMicroseconds": 50 },
              "simulation": { "latencyMs": 1, "jitterMs": 0.5, "failReads": 0.01, "failWrites": 0, "iops": 1000, "bandwidth": "100M", "volatileCache": true },
              "exports": { "db": { "volume": "db", "readOnly": false, "allowedClients": [ "cert:CN=client" ] },
                           "scratch": { "memory": true, "size": "64M", "simulation": { "latencyMs": 5 } } } }
            """u8.ToArray());
        yield return ("empty", "{ }"u8.ToArray());
    }
}
