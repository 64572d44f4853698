using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SessionLocking.Redis;
using SessionLocking.Tests.Faults;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The start-up check of Redis's maxmemory-policy (a policy that may evict keys may evict a held lock). It runs on an
/// ordinary connection string, with no admin mode (StackExchange.Redis 3.x refuses CONFIG without it) and where CONFIG
/// is renamed away (as on many managed services): <c>INFO memory</c> carries the policy. When nothing answers, one
/// line says the check was skipped; no start-up log carries an exception (a stack trace in every start's log).
/// </summary>
public sealed class RedisEvictionPolicyCheckTests
{
    private const string PolicyWarning = "RedisEvictionPolicyMayEvictLocks";
    private const string PolicyUnknown = "RedisEvictionPolicyUnknown";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // CONFIG renamed away: INFO memory still answers
    public async Task The_check_warns_about_an_evicting_policy_on_a_connection_string_without_admin_mode(bool configRenamed)
    {
        string[] args = configRenamed
            ? ["--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", ""]
            : ["--maxmemory-policy", "allkeys-lru"];
        await using var server = await RedisServer.StartAsync(extraArgs: args);
        var log = new RecordingLoggerProvider();

        await UseStoreAsync(server.Configuration, log);

        Assert.True(log.Has(PolicyWarning), "no eviction warning; logged: " + log.Describe());
        Assert.Contains("allkeys-lru", log.Single(PolicyWarning).Message, StringComparison.Ordinal);
        log.AssertNoExceptions();
    }

    [Fact]
    public async Task When_neither_INFO_nor_CONFIG_answers_one_line_without_a_stack_trace_says_the_check_was_skipped()
    {
        await using var server = await RedisServer.StartAsync(extraArgs: ["--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", "", "--rename-command", "INFO", ""]);
        var log = new RecordingLoggerProvider();

        await UseStoreAsync(server.Configuration, log);

        var skipped = log.Single(PolicyUnknown);
        Assert.Equal(LogLevel.Information, skipped.Level);
        Assert.DoesNotContain('\n', skipped.Message);
        Assert.False(log.Has(PolicyWarning));
        log.AssertNoExceptions();
    }

    /// <summary>Takes and releases one lock (the store works whatever the check finds); the check runs in the background.</summary>
    internal static async Task UseStoreAsync(string configuration, RecordingLoggerProvider log)
    {
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        await using var store = new RedisSessionStateStore(
            new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = "evict-" + Guid.NewGuid().ToString("N")[..8] },
            loggerFactory);
        var id = SessionIds.Create();
        var held = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await store.ReleaseAsync(id, held.LockId, default));

        // The check runs in the background on the first connection; the store stays open until it has spoken.
        await FaultKit.Until(() => log.Has(PolicyWarning) || log.Has(PolicyUnknown), TimeSpan.FromSeconds(10), "the eviction check (warning or skipped)");
    }

    /// <summary>Every log event with its exception, to check that none carries one.</summary>
    internal sealed class RecordingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, EventId Id, LogLevel Level, string Message, Exception? Exception)> _events = new();

        public bool Has(string eventName) => _events.Any(e => e.Id.Name == eventName);

        public (string Category, EventId Id, LogLevel Level, string Message, Exception? Exception) Single(string eventName) =>
            Assert.Single(_events, e => e.Id.Name == eventName);

        public string Describe() => string.Join(" | ", _events.Select(e => $"{e.Id.Name} {e.Level}: {e.Message}{(e.Exception is null ? "" : " + " + e.Exception.GetType().Name)}"));

        public void AssertNoExceptions()
        {
            var withException = _events.Where(e => e.Exception is not null).ToArray();
            Assert.True(withException.Length == 0, "logs with an exception attached: " + string.Join(" | ", withException.Select(e => $"{e.Id.Name} {e.Level}: {e.Message} + {e.Exception!.GetType().Name}: {e.Exception.Message}")));
        }

        public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Recorder(RecordingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                provider._events.Enqueue((category, eventId, logLevel, formatter(state, exception), exception));
        }
    }
}

/// <summary>Garnet answers <c>INFO memory</c> without <c>maxmemory_policy</c> and <c>CONFIG GET</c> with nothing: the check says it was skipped, in one line.</summary>
public sealed class GarnetEvictionPolicyCheckTests(GarnetFixture garnet) : IClassFixture<GarnetFixture>
{
    [Fact]
    public async Task On_Garnet_the_check_is_skipped_in_one_line_and_the_store_works()
    {
        var log = new RedisEvictionPolicyCheckTests.RecordingLoggerProvider();

        await RedisEvictionPolicyCheckTests.UseStoreAsync(garnet.Configuration, log);

        Assert.False(log.Has("RedisEvictionPolicyMayEvictLocks"), log.Describe());
        Assert.DoesNotContain('\n', log.Single("RedisEvictionPolicyUnknown").Message);
        log.AssertNoExceptions();
    }
}
