namespace BlockSim.KeyStore.Media;

/// <summary>
/// A medium refused a write because another writer changed the store (or its audit log) since this request
/// read it; nothing was written. The store runs the request again on what is there now.
/// </summary>
public sealed class KeyStoreConflictException(string message) : IOException(message);
