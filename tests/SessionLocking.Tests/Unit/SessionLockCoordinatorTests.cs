using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Stores;

namespace SessionLocking.Tests.Unit;

/// <summary>The coordinator on its own, at a rate HTTP cannot reach, to catch rare races in waking waiters.</summary>
public sealed class SessionLockCoordinatorTests
{
    private static (SessionLockCoordinator Coordinator, ServiceProvider Services) Create(
        Action<LockedSessionOptions> configure, ISessionStateStore? store = null, ILoggerProvider? log = null)
    {
        var services = new ServiceCollection().AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Debug);
            if (log is not null)
            {
                b.AddProvider(log);
            }
        });
        if (store is not null)
        {
            services.AddSingleton(store);
        }

        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddLockedSession(configure);
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<SessionLockCoordinator>(), provider);
    }

    [Fact]
    public async Task No_hand_over_of_a_hot_session_waits_for_the_poll_and_writers_never_overlap()
    {
        // A lost wake-up would leave a waiter asleep until the 10-minute poll: the test would time out.
        var (coordinator, services) = Create(o =>
        {
            o.PollInterval = TimeSpan.FromMinutes(10);
            o.RequestQueueLimitPerSession = 1000;
        });
        await using var _ = services;
        const string id = "abcdefghijklmnopqrstuvwx";
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var inside = 0;
        var overlaps = 0;
        var handovers = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 4_000; i++)
            {
                var acquisition = await coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, deadline.Token);
                Assert.Equal(AcquireStatus.Acquired, acquisition.Status);
                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                if (i % 3 == 0)
                {
                    await Task.Yield();
                }

                Interlocked.Decrement(ref inside);
                await acquisition.DisposeAsync();
                Interlocked.Increment(ref handovers);
            }
        })));

        Assert.Equal(32_000, handovers);
        Assert.Equal(0, overlaps);
        Assert.Equal(0, coordinator.ActiveSessions);
    }

    [Fact]
    public async Task Readers_behind_a_writer_all_go_when_it_releases()
    {
        var (coordinator, services) = Create(o => o.PollInterval = TimeSpan.FromMinutes(10));
        await using var _ = services;
        const string id = "abcdefghijklmnopqrstuvwx";
        var writer = await coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default);
        await writer.CarryOutAsync(ReleasePlan.Write(new SessionChanges(new Dictionary<string, byte[]>(), Array.Empty<string>(), TimeSpan.FromMinutes(20), true)));
        writer = await coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default);

        var readers = Enumerable.Range(0, 5).Select(_ => coordinator.AcquireAsync(id, SessionStateBehavior.ReadOnly, false, default).AsTask()).ToArray();
        await Task.Delay(50);
        Assert.All(readers, r => Assert.False(r.IsCompleted));
        Assert.Equal(5, coordinator.WaitingCount(id));

        await writer.DisposeAsync();
        var results = await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal(SessionStoreStatus.Found, r.StoreResult.Status));
        Assert.Equal(0, coordinator.WaitingCount(id));
        Assert.Equal(0, coordinator.ActiveSessions);
    }

    /// <summary>
    /// B asks the store while A (on this server) is taking the lock, so B's answer is Locked; A then releases
    /// before B joins the queue. A's wake found no one: B must not sleep on its stale answer until the poll.
    /// </summary>
    [Fact]
    public async Task A_release_between_the_store_answer_and_joining_the_queue_is_not_lost()
    {
        var store = new ScriptedStore(new InMemorySessionStateStore(TimeProvider.System));
        var (coordinator, services) = Create(o => o.PollInterval = TimeSpan.FromMinutes(10), store);
        await using var _ = services;
        const string id = "abcdefghijklmnopqrstuvwx";
        var aInStore = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.AfterExclusive = async (call, result) =>
        {
            if (call == 1)
            {
                aInStore.SetResult();
                await bAnswered.Task;
            }
            else if (call == 2)
            {
                Assert.Equal(SessionStoreStatus.Locked, result.Status);
                bAnswered.SetResult();
                await aReleased.Task;
            }
        };

        var a = coordinator.AcquireAsync(id, SessionStateBehavior.Required, true, default).AsTask();
        await aInStore.Task;
        var b = coordinator.AcquireAsync(id, SessionStateBehavior.Required, true, default).AsTask();
        var held = await a;
        await held.DisposeAsync();
        aReleased.SetResult();

        var acquired = await b.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(AcquireStatus.Acquired, acquired.Status);
        Assert.True(acquired.StoreResult.HasLock);
    }

    /// <summary>
    /// B joined the queue behind A; A releases and wakes B before B first arms its signal. B must act on that
    /// wake instead of sleeping until the poll.
    /// </summary>
    [Fact]
    public async Task A_wake_that_arrives_before_the_waiter_first_waits_is_not_lost()
    {
        var store = new ScriptedStore(new InMemorySessionStateStore(TimeProvider.System));
        var log = new BlockingLog("LockWaitStarted");
        var (coordinator, services) = Create(o => o.PollInterval = TimeSpan.FromMinutes(10), store, log);
        await using var _ = services;
        const string id = "abcdefghijklmnopqrstuvwx";
        var aInStore = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.AfterExclusive = async (call, _) =>
        {
            if (call == 1)
            {
                aInStore.SetResult();
                await bAnswered.Task;
            }
            else if (call == 2)
            {
                bAnswered.SetResult();
            }
        };

        var a = coordinator.AcquireAsync(id, SessionStateBehavior.Required, true, default).AsTask();
        await aInStore.Task;
        var b = Task.Run(() => coordinator.AcquireAsync(id, SessionStateBehavior.Required, true, default).AsTask());
        var held = await a;
        await log.Reached.WaitAsync(TimeSpan.FromSeconds(20));
        await held.DisposeAsync();
        log.Continue();

        var acquired = await b.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(AcquireStatus.Acquired, acquired.Status);
    }

    /// <summary>A store whose exclusive reads can be held at chosen moments.</summary>
    private sealed class ScriptedStore(ISessionStateStore inner) : ISessionStateStore
    {
        private int _calls;

        public Func<int, SessionStoreResult, Task>? AfterExclusive { get; set; }

        public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
        {
            var result = await inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);
            if (AfterExclusive is { } hook)
            {
                await hook(Interlocked.Increment(ref _calls), result);
            }

            return result;
        }

        public ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) => inner.GetSharedAsync(sessionId, cancellationToken);

        public ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) => inner.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);

        public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) => inner.ReleaseAsync(sessionId, lockId, cancellationToken);

        public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) => inner.RemoveAsync(sessionId, lockId, cancellationToken);

        public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) => inner.ForceReleaseAsync(sessionId, holderLockId, cancellationToken);

        public ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) => inner.KeepAliveAsync(sessionId, cancellationToken);
    }

    /// <summary>Blocks the thread that writes a given log event until the test lets it go: a seam between two statements.</summary>
    private sealed class BlockingLog(string eventName) : ILoggerProvider, ILogger
    {
        private readonly ManualResetEventSlim _go = new();
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Continue() => _go.Set();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name == eventName && _reached.TrySetResult())
            {
                _go.Wait(TimeSpan.FromSeconds(30));
            }
        }

        public void Dispose() => _go.Dispose();
    }
}
