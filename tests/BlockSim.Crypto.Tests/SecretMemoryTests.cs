using System.Globalization;
using System.Runtime.InteropServices;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// Key material stays out of core dumps: its pages carry MADV_DONTDUMP (VmFlags "dd" in /proc/self/smaps)
/// and, where the memlock limit allows, are locked in RAM ("lo"). Both tests change RLIMIT_MEMLOCK or
/// depend on it, so they share a class (xunit runs a class's tests one at a time).
/// </summary>
public unsafe partial class SecretMemoryTests
{
    [Fact]
    public void Key_pages_are_left_out_of_core_dumps_and_locked_when_the_limit_allows()
    {
        // Regression: the keys lived in malloc'd memory, dumped with the rest of the heap.
        using var memory = new SecretMemory(3 * 4096 + 100);
        var flags = VmFlagsOf((nint)memory.Pointer);
        Assert.Contains("dd", flags);
        Assert.Equal(memory.IsLocked, flags.Contains("lo"));
        Assert.Equal(0, (nint)memory.Pointer % 64);
        Assert.False(memory.Span.ContainsAnyExcept((byte)0)); // starts zeroed

        // The whole allocation is one mapping with the advice: the last byte too.
        Assert.Contains("dd", VmFlagsOf((nint)memory.Pointer + memory.Length - 1));
    }

    [Fact]
    public void Without_the_right_to_lock_memory_keys_are_still_kept_out_of_dumps()
    {
        Assert.Equal(0, getrlimit(RlimitMemlock, out var saved));
        try
        {
            Assert.Equal(0, setrlimit(RlimitMemlock, new RLimit { Current = 0, Maximum = saved.Maximum }));
            using var memory = new SecretMemory(64); // must not throw
            memory.Span.Fill(0x5A);
            Assert.Contains("dd", VmFlagsOf((nint)memory.Pointer));

            // CAP_IPC_LOCK (root) ignores the limit; anyone else is refused the lock.
            Assert.Equal(HasCapIpcLock(), memory.IsLocked);
        }
        finally
        {
            Assert.Equal(0, setrlimit(RlimitMemlock, saved));
        }
    }

    /// <summary>The VmFlags of the mapping in /proc/self/smaps that holds <paramref name="address"/>.</summary>
    private static string[] VmFlagsOf(nint address)
    {
        var inMapping = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (IsMappingHeader(line, out var start, out var end))
            {
                inMapping = (ulong)address >= start && (ulong)address < end;
            }
            else if (inMapping && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        throw new InvalidOperationException($"No mapping in /proc/self/smaps holds 0x{address:x}.");
    }

    /// <summary>A mapping's first line: "START-END perms offset dev inode [path]", addresses in hex.</summary>
    private static bool IsMappingHeader(string line, out ulong start, out ulong end)
    {
        start = end = 0;
        var range = line.Split(' ', 2)[0];
        var dash = range.IndexOf('-');
        return dash > 0
            && ulong.TryParse(range.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out start)
            && ulong.TryParse(range.AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out end);
    }

    private static bool HasCapIpcLock()
    {
        const int capIpcLock = 14;
        var effective = File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        var mask = ulong.Parse(effective["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return (mask & (1UL << capIpcLock)) != 0;
    }

    private const int RlimitMemlock = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);
}
