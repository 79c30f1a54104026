using System.Runtime.InteropServices;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>serve --exit-with-parent</c>, as nbdkit's: when the process that started the daemon exits, the daemon
/// stops gracefully (exports flushed, keys zeroed), so a test harness or a script killed midway leaves no
/// daemon behind. The parent's end is seen as the daemon being re-parented (getppid changes), checked twice a
/// second: PR_SET_PDEATHSIG would fire when the parent's forking thread ends, not the parent.
/// </summary>
internal sealed partial class ParentWatch : IDisposable
{
    private readonly Timer _timer;

    /// <param name="parent">The parent as it was when the command line was read (<see cref="Parent"/>): one gone during start-up is seen at the first check.</param>
    public ParentWatch(int parent, Action parentGone)
    {
        _timer = new Timer(_ =>
        {
            if (GetParentId() != parent)
            {
                _timer!.Dispose();
                parentGone();
            }
        }, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));
    }

    /// <summary>The process that started this one, now.</summary>
    public static int Parent => GetParentId();

    public void Dispose() => _timer.Dispose();

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentId();
}
