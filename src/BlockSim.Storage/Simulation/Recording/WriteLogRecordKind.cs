namespace BlockSim.Storage.Simulation.Recording;

/// <summary>What a write-log record says happened. The numbers are the on-disk kind byte: never renumber them.</summary>
public enum WriteLogRecordKind : byte
{
    /// <summary>A write was submitted; the record holds its payload as the device below saw it.</summary>
    Write = 1,
    Trim = 2,
    WriteZeroes = 3,
    Flush = 4,

    /// <summary>A named point in the stream, put there by whoever drives the workload.</summary>
    Mark = 5,

    /// <summary>The request with this id finished, successfully or not.</summary>
    Completion = 6,

    /// <summary>The writer was closed; it carries the number of records before it. Readers do not return it.</summary>
    End = 7,
}
