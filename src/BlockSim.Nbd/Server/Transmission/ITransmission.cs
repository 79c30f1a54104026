namespace BlockSim.Nbd.Server.Transmission;

/// <summary>A transmission phase as its connection sees it (the idle timeout and idle reclaim ask this).</summary>
internal interface ITransmission
{
    /// <summary>No request is being read, run or answered.</summary>
    bool NothingInFlight { get; }
}
