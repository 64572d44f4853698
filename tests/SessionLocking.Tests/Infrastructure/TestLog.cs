using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>Collects log events of the test hosts, so tests can assert that something was logged.</summary>
public static class TestLog
{
    public static readonly CollectingProvider Provider = new();

    public static IReadOnlyList<(string Category, EventId Id, LogLevel Level, string Message)> Events => Provider.Events.ToArray();

    public static bool Has(string eventName) => Provider.Events.Any(e => e.Id.Name == eventName);

    public sealed class CollectingProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, EventId Id, LogLevel Level, string Message)> Events { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Collector(this, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Collector(CollectingProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("SessionLocking", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Events.Enqueue((category, eventId, logLevel, formatter(state, exception)));
            }
        }
    }
}
