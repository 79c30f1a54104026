namespace BlockSim.Crypto.Tests;

/// <summary>Theory data: every XTS tier this machine can run (a tier it cannot run is reported by <see cref="TierSelectionTests"/>).</summary>
public static class Tiers
{
    public static TheoryData<XtsTier> Supported
    {
        get
        {
            var data = new TheoryData<XtsTier>();
            foreach (var tier in XtsTiers.Supported)
            {
                data.Add(tier);
            }

            return data;
        }
    }
}
