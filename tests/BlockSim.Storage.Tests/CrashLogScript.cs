using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>Builds a write log by hand, request by request, for the crash-state tests; sectors of 512 bytes, each write filled with one byte.</summary>
internal sealed class CrashLogScript
{
    public const int Sector = 512;
    public const long Capacity = 64 * Sector;
    private readonly MemoryStream _stream = new();
    private readonly WriteLogWriter _writer;

    public CrashLogScript() => _writer = new WriteLogWriter(_stream, Sector, Capacity, leaveOpen: true);

    /// <summary>Submits a write of <paramref name="sectors"/> sectors of <paramref name="fill"/> at <paramref name="sector"/>.</summary>
    public long Write(long sector, byte fill, int sectors = 1, bool fua = false)
    {
        var payload = new byte[sectors * Sector];
        payload.AsSpan().Fill(fill);
        return _writer.AppendWrite(sector * Sector, payload, fua);
    }

    public long Flush() => _writer.AppendFlush();

    public long Trim(long sector, int sectors) => _writer.AppendTrim(sector * Sector, sectors * Sector);

    public long Zero(long sector, int sectors) => _writer.AppendWriteZeroes(sector * Sector, sectors * Sector, mayDeallocate: false);

    public void Complete(long id, bool failed = false) => _writer.AppendCompletion(id, failed);

    /// <summary>Submits and completes.</summary>
    public long Done(long id)
    {
        Complete(id);
        return id;
    }

    public long Mark(string name) => _writer.AppendMark(name);

    /// <summary>The crash point after everything so far.</summary>
    public int Now => (int)_writer.Records;

    public CrashStateModel Model()
    {
        _writer.Dispose();
        _stream.Position = 0;
        using var reader = new WriteLogReader(_stream);
        return new CrashStateModel(reader.Header, [.. reader.ReadRecords()]);
    }

    /// <summary>The fill byte of each sector after the state is laid over a base image of <paramref name="baseFill"/>.</summary>
    public static async Task<byte[]> Sectors(CrashState state, byte baseFill = 0xBB, int count = 16)
    {
        using var device = new MemoryBlockDevice(Capacity);
        var image = new byte[Capacity];
        image.AsSpan().Fill(baseFill);
        await device.WriteAsync(0, image);
        await state.ApplyToAsync(device);
        await device.ReadAsync(0, image);
        var fills = new byte[count];
        for (var sector = 0; sector < count; sector++)
        {
            var bytes = image.AsSpan(sector * Sector, Sector);
            Assert.True(bytes.IndexOfAnyExcept(bytes[0]) < 0, $"sector {sector} is torn inside itself");
            fills[sector] = bytes[0];
        }

        return fills;
    }
}
