namespace BlockSim.Storage.Simulation.Recording;

/// <summary>The start of a write log: the shape of the device whose requests it records.</summary>
public readonly record struct WriteLogHeader(int Version, int SectorSize, long Capacity);
