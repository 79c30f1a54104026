using Xunit.Abstractions;

namespace BlockSim.Interop.Tests;

/// <summary>The real clients of NBD.md against our server, each on its own encrypted, file-backed volume.</summary>
public class ClientInteropTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Nbdinfo_describes_the_export()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        await using var server = new InteropServer("info");
        var (exit, text) = await Run("nbdinfo", server.Uri);
        Assert.Equal(0, exit);
        Assert.Contains("export-size: 67108864", text);
        Assert.Contains("can_flush: true", text);
        Assert.Contains("can_fua: true", text);
        Assert.Contains("base:allocation", text);
    }

    [SkippableFact]
    public async Task Nbdinfo_lists_the_exports()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        await using var server = new InteropServer("listed");
        var (exit, text) = await Run("nbdinfo", "--list", server.Uri);
        Assert.Equal(0, exit);
        Assert.Contains("export=\"listed\"", text);
        Assert.Contains("export=\"other\"", text);
    }

    [SkippableFact]
    public async Task Nbdinfo_can_multi_conn_answers_yes_in_its_exit_code()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        await using var server = new InteropServer("multi");
        Assert.Equal(0, (await Run("nbdinfo", "--can", "multi-conn", server.Uri)).ExitCode);
        Assert.NotEqual(0, (await Run("nbdinfo", "--can", "read-only", server.Uri)).ExitCode);
    }

    [SkippableFact]
    public async Task Qemu_io_pattern_writes_fua_zero_and_discard_verify()
    {
        ExternalTool.Require("qemu-io", "qemu-utils");
        await using var server = new InteropServer("qemuio");
        var (exit, text) = await Run(
            "qemu-io", "-f", "raw",
            "-c", "write -P 0xab 0 64k", "-c", "read -P 0xab 0 64k",
            "-c", "write -z 64k 64k", "-c", "read -P 0 64k 64k",
            "-c", "write -f -P 0xcd 128k 4k", "-c", "read -P 0xcd 128k 4k",
            "-c", "discard 192k 64k", "-c", "read -P 0 192k 64k",
            "-c", "flush", server.Uri);
        Assert.Equal(0, exit);
        Assert.DoesNotContain("Pattern verification failed", text);
        Assert.DoesNotContain("error", text, StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    public async Task Nbdinfo_map_shows_data_and_holes()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        ExternalTool.Require("qemu-io", "qemu-utils");
        await using var server = new InteropServer("map");
        Assert.Equal(0, (await Run("qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 128k", server.Uri)).ExitCode);
        var (exit, text) = await Run("nbdinfo", "--map", server.Uri);
        Assert.Equal(0, exit);
        Assert.Matches(@"0\s+1048576\s+3\s+hole,zero", text);
        Assert.Matches(@"1048576\s+131072\s+0\s+data", text);
    }

    [SkippableFact]
    public async Task Qemu_img_converts_in_and_out_and_compares_equal()
    {
        ExternalTool.Require("qemu-img", "qemu-utils");
        await using var server = new InteropServer("img");
        var source = server.File("source.img");
        WriteRandomImage(source, 64L * 1024 * 1024, dataBytes: 8 * 1024 * 1024);
        Assert.Equal(0, (await Run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source, server.Uri)).ExitCode);
        var (exit, text) = await Run("qemu-img", "compare", "-f", "raw", "-F", "raw", source, server.Uri);
        Assert.Equal(0, exit);
        Assert.Contains("Images are identical", text);
        var back = server.File("back.img");
        Assert.Equal(0, (await Run("qemu-img", "convert", "-f", "raw", "-O", "raw", server.Uri, back)).ExitCode);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(back));
    }

    [SkippableFact]
    public async Task Nbdcopy_round_trip_with_four_connections()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        await using var server = new InteropServer("copy");
        var source = server.File("source.img");
        WriteRandomImage(source, 64L * 1024 * 1024, dataBytes: 16 * 1024 * 1024);
        Assert.Equal(0, (await Run("nbdcopy", "-C", "4", "-R", "16", "--flush", source, server.Uri)).ExitCode);
        var back = server.File("back.img");
        Assert.Equal(0, (await Run("nbdcopy", "-C", "4", server.Uri, back)).ExitCode);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(back));
        var stored = await server.StopAndReadVolumeFileAsync();
        Assert.Equal(-1, stored.AsSpan().IndexOf(File.ReadAllBytes(source).AsSpan(0, 256))); // stored encrypted
    }

    [SkippableFact]
    public async Task Fio_random_read_write_with_crc32c_verification()
    {
        ExternalTool.Require("fio", "fio");
        await using var server = new InteropServer("fio");
        await FioVerifyAsync(server, Run);
    }

    /// <summary>fio's 3-second random read/write mix at QD32 with crc32c verification against the server's export: no error, no verify failure.</summary>
    internal static async Task FioVerifyAsync(InteropServer server, Func<string, string[], Task<(int ExitCode, string Output)>> run)
    {
        var job = server.File("verify.fio");
        File.WriteAllText(job, $"""
            [global]
            ioengine=nbd
            uri={server.Uri}
            rw=randrw
            bs=4k
            iodepth=32
            size=32m
            time_based=1
            runtime=3
            verify=crc32c
            verify_fatal=1
            [job]
            """);
        var (exit, text) = await run("fio", [job]);
        Assert.Equal(0, exit);
        Assert.Contains("err= 0", text);
        Assert.DoesNotContain("verify:", text);
    }

    [SkippableFact]
    public async Task Nbd_client_lists_exports_without_a_kernel_device()
    {
        ExternalTool.Require("nbd-client", "nbd-client");
        await using var server = new InteropServer("kernelclient");
        var (exit, text) = await Run("nbd-client", "-l", "127.0.0.1", server.Port.ToString());
        Assert.Equal(0, exit);
        Assert.Contains("kernelclient", text);
    }

    [SkippableFact]
    public async Task Qemu_nbd_lists_exports()
    {
        ExternalTool.Require("qemu-nbd", "qemu-utils");
        await using var server = new InteropServer("qemunbd");
        var (exit, text) = await Run("qemu-nbd", "--list", "-b", "127.0.0.1", "-p", server.Port.ToString());
        Assert.Equal(0, exit);
        Assert.Contains("qemunbd", text);
    }

    private Task<(int ExitCode, string Output)> Run(string program, params string[] arguments) =>
        ExternalTool.RunLoggedAsync(output, program, arguments);

    /// <summary>A raw image with random data at the start and zeros after (sparse where the file system allows).</summary>
    internal static void WriteRandomImage(string path, long size, int dataBytes)
    {
        var data = new byte[dataBytes];
        new Random(dataBytes).NextBytes(data);
        using var file = File.Create(path);
        file.Write(data);
        file.SetLength(size);
    }
}
