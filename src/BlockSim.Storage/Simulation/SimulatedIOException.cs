namespace BlockSim.Storage.Simulation;

/// <summary>
/// An I/O error the simulator made on purpose (random fault injection). Its message names no file on the
/// server, so it may reach the client as it stands, which is the point: the user sees which fault hit.
/// Every other <see cref="IOException"/> is the real storage failing, and its message (file paths, errno
/// text) stays in the server log.
/// </summary>
public sealed class SimulatedIOException(string message) : IOException(message);
