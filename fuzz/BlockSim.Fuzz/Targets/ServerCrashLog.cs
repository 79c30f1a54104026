using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BlockSim.Fuzz.Targets;

/// <summary>The log events that mean an unexpected exception reached a connection (1005) or a request (2003).</summary>
internal sealed class ServerCrashLog : ILogger
{
    public ConcurrentQueue<string> Crashes { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id is 1005 or 2003)
        {
            Crashes.Enqueue($"{formatter(state, exception)}: {exception}");
        }
    }
}
