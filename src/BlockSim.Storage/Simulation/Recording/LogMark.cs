namespace BlockSim.Storage.Simulation.Recording;

/// <summary>A mark in a write log and the crash point right after it.</summary>
public readonly record struct LogMark(string Name, int CrashPoint);
