using System.Globalization;
using System.Net;
using System.Xml.Linq;
using BlockSim.Interop.Tests;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.LoadTest.Tests;

/// <summary>The plot as a viewer shows it: every label inside the canvas (nothing clipped), and an image a real renderer draws.</summary>
public class SvgPlotTests
{
    private static readonly XNamespace s_svg = "http://www.w3.org/2000/svg";

    [Fact]
    public async Task Every_label_lies_inside_the_canvas()
    {
        var svg = XDocument.Parse(SvgPlot.Write(await RunAsync()));
        var width = double.Parse(svg.Root!.Attribute("width")!.Value, CultureInfo.InvariantCulture);
        var height = double.Parse(svg.Root.Attribute("height")!.Value, CultureInfo.InvariantCulture);
        foreach (var text in svg.Descendants(s_svg + "text"))
        {
            var x = double.Parse(text.Attribute("x")!.Value, CultureInfo.InvariantCulture);
            var y = double.Parse(text.Attribute("y")!.Value, CultureInfo.InvariantCulture);
            var size = double.Parse(text.Attribute("font-size")?.Value ?? "12", CultureInfo.InvariantCulture);
            var extent = text.Value.Length * size * 0.6; // a generous average advance for sans-serif
            var (left, right) = text.Attribute("text-anchor")?.Value switch
            {
                "end" => (x - extent, x),
                "middle" => (x - extent / 2, x + extent / 2),
                _ => (x, x + extent),
            };
            Assert.True(left >= 0 && right <= width && y - size >= 0 && y <= height, $"'{text.Value}' at ({x}, {y}) runs past the {width} x {height} canvas");
        }
    }

    [SkippableFact]
    public async Task A_real_renderer_draws_it()
    {
        ExternalTool.Require("rsvg-convert", "librsvg2-bin");
        var file = Path.Combine(Path.GetTempPath(), $"blocksim-plot-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(file + ".svg", SvgPlot.Write(await RunAsync()));
            var (exit, output) = await ExternalTool.RunAsync("rsvg-convert", ["-o", file + ".png", file + ".svg"]);
            Assert.True(exit == 0, output);
            var png = File.ReadAllBytes(file + ".png");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            Assert.Equal(900, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4))); // IHDR width
        }
        finally
        {
            File.Delete(file + ".svg");
            File.Delete(file + ".png");
        }
    }

    private static async Task<LoadResult> RunAsync()
    {
        await using var server = new NbdServer(new ExportRegistry([new MemoryExport("mem", 64 << 20)]));
        var endpoint = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0));
        return await new LoadRunner(new LoadOptions
        {
            Url = $"nbd://127.0.0.1:{endpoint.Port}/mem",
            ReadPercent = 70,
            QueueDepth = 8,
            Warmup = TimeSpan.FromMilliseconds(200),
            Duration = TimeSpan.FromSeconds(2),
        }).RunAsync();
    }
}
