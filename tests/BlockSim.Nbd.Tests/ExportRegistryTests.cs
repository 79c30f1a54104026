using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

public class ExportRegistryTests
{
    [Fact]
    public void An_entry_that_neither_serves_itself_nor_can_be_attached_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new ExportRegistry([new MemoryExport("m", 4096), new ListedOnly()]));
        Assert.Contains("'listed' neither serves itself nor can be attached", e.Message);
    }

    [Fact]
    public void Names_are_unique_and_the_empty_name_is_the_default()
    {
        Assert.Contains("Two exports are named 'm'", Assert.Throws<ArgumentException>(() => new ExportRegistry([new MemoryExport("m", 4096), new MemoryExport("m", 8192)])).Message);
        var registry = new ExportRegistry([new MemoryExport("a", 4096), new MemoryExport("b", 8192)], defaultExport: "b");
        Assert.True(registry.TryGet("", out var chosen));
        Assert.Equal(8192, chosen.Size);
    }

    /// <summary>Something with a name and a size but no way to serve: not an export the server can use.</summary>
    private sealed class ListedOnly : INbdExportInfo
    {
        public string Name => "listed";

        public string? Description => null;

        public long Size => 4096;

        public bool IsReadOnly => false;

        public bool CanMultiConn => true;

        public int MinimumBlockSize => 1;

        public int PreferredBlockSize => 4096;
    }
}
