namespace BlockSim.Daemon.Service;

/// <summary>
/// A volume, export or snapshot name that breaks the naming rules (<see cref="DataDirectory.CheckVolumeName"/>):
/// a mistake in what the user typed or configured, not a key-store refusal. An <see cref="ArgumentException"/>,
/// so start-up reports it as a usage error like any other bad setting; the message says what a name may hold.
/// </summary>
internal sealed class InvalidVolumeNameException(string message) : ArgumentException(message);
