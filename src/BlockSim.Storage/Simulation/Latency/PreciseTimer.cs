using System.Diagnostics;
using BlockSim.Storage.Native;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// Completes tasks at deadlines to within tens of microseconds, where .NET's timers fire on a millisecond
/// tick. One thread of its own keeps the deadlines in order: more than 2 ms from the next one it waits on a
/// monitor (a millisecond at a time, woken by any new deadline), nearer it sleeps with clock_nanosleep and a
/// timer slack of 1 ns in steps of at most 200 µs (so a deadline that arrives meanwhile is late by at most
/// that), and for the last 60 µs it spins. Waiters resume on the thread pool, never on the timer's thread.
/// </summary>
public static class PreciseTimer
{
    /// <summary>Closer than this the thread spins: a nanosleep on these VMs overshoots by tens of microseconds.</summary>
    private static readonly long s_spinTicks = Stopwatch.Frequency * 60 / 1_000_000;
    private static readonly long s_nanosleepTicks = Stopwatch.Frequency * 2 / 1_000;
    private static readonly long s_sleepStepTicks = Stopwatch.Frequency * 200 / 1_000_000;
    private static readonly PriorityQueue<TaskCompletionSource, long> s_deadlines = new();
    private static readonly object s_gate = new();
    private static Thread? s_thread;

    /// <summary>Tests only: told each deadline as the timer's thread completes it, in the order it does.</summary>
    internal static Action<long>? Released { get; set; }

    /// <summary>A task that completes at <paramref name="deadline"/> (a <see cref="Stopwatch.GetTimestamp"/> value).</summary>
    public static Task At(long deadline)
    {
        if (deadline <= Stopwatch.GetTimestamp())
        {
            return Task.CompletedTask;
        }

        var due = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (s_gate)
        {
            s_deadlines.Enqueue(due, deadline);
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "blocksim precise timer", Priority = ThreadPriority.AboveNormal };
                s_thread.Start();
            }

            Monitor.Pulse(s_gate);
        }

        return due.Task;
    }

    private static void Run()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = LibC.prctl(LibC.PrSetTimerSlack, 1, 0, 0, 0); // the default 50 µs slack would round every sleep up
        }

        var ready = new List<(TaskCompletionSource Due, long Deadline)>();
        while (true)
        {
            long wait;
            lock (s_gate)
            {
                while (s_deadlines.Count == 0)
                {
                    Monitor.Wait(s_gate);
                }

                var now = Stopwatch.GetTimestamp();
                while (s_deadlines.TryPeek(out var due, out var deadline) && deadline <= now)
                {
                    s_deadlines.Dequeue();
                    ready.Add((due, deadline));
                }

                wait = s_deadlines.TryPeek(out _, out var next) ? next - now : 0;
                if (wait > s_nanosleepTicks)
                {
                    // Far off: nothing to time closely. Those due now are completed first; waiting here with
                    // them in hand held each up to a millisecond whenever the next deadline was 2 ms away.
                    if (ready.Count == 0)
                    {
                        Monitor.Wait(s_gate, 1); // woken early by a new deadline
                    }

                    wait = 0;
                }
            }

            foreach (var (due, deadline) in ready)
            {
                Released?.Invoke(deadline);
                due.TrySetResult();
            }

            ready.Clear();
            if (wait > s_spinTicks + s_overshoot)
            {
                Sleep(Math.Min(wait - s_spinTicks - s_overshoot, s_sleepStepTicks));
            }
            else if (wait > 0)
            {
                Thread.SpinWait(20);
            }
        }
    }

    /// <summary>
    /// How late a sleep wakes, on average lately: a VM's timer and the scheduler add tens to hundreds of
    /// microseconds, so each sleep ends that much before the spin is due.
    /// </summary>
    private static long s_overshoot;

    private static void Sleep(long ticks)
    {
        var start = Stopwatch.GetTimestamp();
        if (!OperatingSystem.IsLinux())
        {
            Thread.Sleep(0);
            return;
        }

        var nanoseconds = ticks * 1_000_000_000 / Stopwatch.Frequency;
        var request = new LibC.TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        _ = LibC.clock_nanosleep(LibC.ClockMonotonic, 0, ref request, IntPtr.Zero);
        var late = Math.Max(0, Stopwatch.GetTimestamp() - start - ticks);
        s_overshoot = Math.Min(s_sleepStepTicks, ((s_overshoot * 7) + late) / 8);
    }
}
