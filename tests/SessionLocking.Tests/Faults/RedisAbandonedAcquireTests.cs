using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Redis;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// The store stops waiting for an acquire (its operation timeout, the caller's cancellation) while Redis holds the
/// script unanswered (<c>CLIENT PAUSE</c>); Redis runs it after the pause and takes a lock whose token nobody knows.
/// The store's clean-up (a release-by-owner queued behind the acquire, and the observed late answer) frees it at
/// once, so the session is free within a second after the pause instead of after the execution timeout, and the
/// metric <c>sessionlocking.lock.abandoned_released</c> counts it.
/// </summary>
public sealed class RedisAbandonedAcquireTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(600);
    private readonly string _prefix = "abandon-" + Guid.NewGuid().ToString("N")[..8];

    public static TheoryData<string, bool> Cases => new()
    {
        { "WRITE", true },
        { "WRITE", false },
        { "ALL", true },
        { "ALL", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_acquire_cut_off_by_the_operation_timeout_during_a_pause_leaves_no_lock_after_it(string pauseMode, bool stored)
    {
        using var meters = new MeterScope();
        await using var store = NewStore(TimeSpan.FromMilliseconds(150), meters.Factory);
        await using var other = NewStore(TimeSpan.FromSeconds(5), null);
        var id = SessionIds.Create();
        await WarmUpAsync(store, id);
        if (stored)
        {
            await SeedAsync(store, id);
        }

        var pauseEnds = await PauseAsync(pauseMode);
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"the acquire waited {clock.Elapsed}");
        Assert.Equal("acquire", error.Operation);

        var freed = await WaitUntilFreeAsync(id, pauseEnds);
        output.WriteLine($"pause {pauseMode}, stored={stored}: lock gone {freed.TotalMilliseconds:0} ms after the pause; counter {meters.Released}");
        Assert.True(freed < TimeSpan.FromSeconds(1), $"the lock was left {freed} after the pause");
        // The count comes with the clean-up's answer on the client; on a loaded machine that can come seconds after
        // Redis freed the lock (asserted above), so "eventually" is generous here: the count itself is what matters.
        await FaultKit.Until(() => meters.Released == 1, TimeSpan.FromSeconds(10), "the abandoned lock counted");
        Assert.Equal(0, store.CleanupsInFlight);

        var next = await other.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(next.HasLock);
        Assert.Equal(stored ? SessionStoreStatus.Found : SessionStoreStatus.NotFound, next.Status);
        Assert.True(await other.ReleaseAsync(id, next.LockId, default));
        await Task.Delay(100);
        Assert.Equal(1, meters.Released);
    }

    [Fact]
    public async Task An_acquire_whose_caller_cancelled_while_redis_was_paused_leaves_no_lock_after_it()
    {
        using var meters = new MeterScope();
        await using var store = NewStore(TimeSpan.FromSeconds(5), meters.Factory);
        var id = SessionIds.Create();
        await SeedAsync(store, id);

        var pauseEnds = await PauseAsync("ALL");
        using var caller = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.GetExclusiveAsync(id, LockTimeout, false, caller.Token));

        var freed = await WaitUntilFreeAsync(id, pauseEnds);
        Assert.True(freed < TimeSpan.FromSeconds(1), $"the lock was left {freed} after the pause");
        // The count comes with the clean-up's answer on the client; on a loaded machine that can come seconds after
        // Redis freed the lock (asserted above), so "eventually" is generous here: the count itself is what matters.
        await FaultKit.Until(() => meters.Released == 1, TimeSpan.FromSeconds(10), "the abandoned lock counted");
        var next = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Found, next.Status);
        Assert.True(await store.ReleaseAsync(id, next.LockId, default));
    }

    [Fact]
    public async Task An_abandoned_acquire_that_found_the_session_locked_releases_nothing_of_the_holder()
    {
        using var meters = new MeterScope();
        await using var store = NewStore(TimeSpan.FromMilliseconds(150), meters.Factory);
        var id = SessionIds.Create();
        await WarmUpAsync(store, id);
        await SeedAsync(store, id);
        var holder = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        var pauseEnds = await PauseAsync("WRITE");
        await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, false, default));
        await Task.Delay(pauseEnds - DateTime.UtcNow + TimeSpan.FromMilliseconds(300));
        await FaultKit.Until(() => store.CleanupsInFlight == 0, TimeSpan.FromSeconds(10), "the clean-up finished");

        var probe = await store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Locked, probe.Status); // the holder still holds its lock
        Assert.Equal(holder.LockId, probe.LockId);
        Assert.Equal(0, meters.Released);
        Assert.True(await store.ReleaseAsync(id, holder.LockId, default));
    }

    [Fact]
    public async Task Clean_ups_beyond_the_cap_are_skipped_and_logged_and_their_locks_expire_by_their_ttl()
    {
        var events = new TestLog.CollectingProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(events));
        using var meters = new MeterScope();
        await using var store = new RedisSessionStateStore(
            new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix, OperationTimeout = TimeSpan.FromMilliseconds(150) },
            loggerFactory,
            meters.Factory)
        { CleanupLimit = 1 };
        var ids = Enumerable.Range(0, 3).Select(_ => SessionIds.Create()).ToArray();
        await WarmUpAsync(store, ids[0]);

        var pauseEnds = await PauseAsync("WRITE");
        var acquires = ids.Select(id => Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(3), true, default))).ToArray();
        await Task.WhenAll(acquires);
        Assert.Equal(2, events.Events.Count(e => e.Id.Name == "RedisAbandonedCleanupsOverLimit"));

        await Task.Delay(pauseEnds - DateTime.UtcNow);
        await FaultKit.Until(() => meters.Released == 1 && store.CleanupsInFlight == 0, TimeSpan.FromSeconds(10), "the one clean-up within the cap done and counted");
        using var inspect = await redis.Server.ConnectAsync();
        var left = new List<string>();
        foreach (var id in ids)
        {
            if (await inspect.IntegerAsync("EXISTS", FaultKit.LockKey(_prefix, id)) == 1)
            {
                left.Add(id);
                Assert.InRange(await inspect.IntegerAsync("PTTL", FaultKit.LockKey(_prefix, id)), 1, 3000); // left to its TTL
            }
        }

        Assert.Equal(2, left.Count); // the skipped two; the third was released by its clean-up
    }

    [Fact]
    public async Task Through_the_middleware_the_next_request_after_a_pause_gets_the_session_at_once_and_the_metric_counts_it()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = TimeSpan.FromSeconds(30);
            o.LockWaitTimeout = TimeSpan.FromSeconds(20);
        }, operationTimeout: TimeSpan.FromMilliseconds(200));
        var released = 0L;
        using var listener = host.ListenToCounter(RedisSessionStateStore.AbandonedReleasedCounter, n => Interlocked.Add(ref released, n));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();

        var pauseEnds = await PauseAsync("WRITE");
        var during = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=w&value=during");
        Assert.Equal(503, during.Status);
        await Task.Delay(pauseEnds - DateTime.UtcNow);
        var after = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=w&value=after");

        output.WriteLine($"during the pause: {during}; after it: {after}");
        Assert.Equal(200, after.Status);
        Assert.True(after.Elapsed < TimeSpan.FromSeconds(1), $"the next request waited {after.Elapsed} for a lock nobody held");
        Assert.Equal("after", await client.GetJsonAsync<string>("/get?key=w"));
        await FaultKit.Until(() => Interlocked.Read(ref released) == 1, TimeSpan.FromSeconds(10), "sessionlocking.lock.abandoned_released counted");
        Assert.True(TestLog.Has("RedisAbandonedLockReleased"));
        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix));
    }

    /// <summary>Pauses the server's clients; returns when the pause ends (UTC).</summary>
    private async Task<DateTime> PauseAsync(string mode)
    {
        using var admin = await redis.Server.ConnectAsync();
        await admin.CommandAsync("CLIENT", "PAUSE", ((long)Pause.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), mode);
        return DateTime.UtcNow + Pause;
    }

    /// <summary>Waits until the session has no lock key; returns how long after the pause that was (zero when before its end).</summary>
    private async Task<TimeSpan> WaitUntilFreeAsync(string id, DateTime pauseEnds)
    {
        using var inspect = await redis.Server.ConnectAsync();
        var lockKey = FaultKit.LockKey(_prefix, id);
        await Task.Delay(pauseEnds - DateTime.UtcNow);
        var deadline = Stopwatch.StartNew();
        while (await inspect.IntegerAsync("EXISTS", lockKey) == 1 && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(10);
        }

        return DateTime.UtcNow - pauseEnds;
    }

    /// <summary>
    /// Connects the store and loads its scripts with a read of <paramref name="id"/>. On a loaded machine the first
    /// call (connect, script load) can take longer than a test's short operation timeout; that is not what the tests
    /// look at, so it is tried again (a read takes no lock).
    /// </summary>
    private static async Task WarmUpAsync(RedisSessionStateStore store, string id)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await store.GetSharedAsync(id, default);
                return;
            }
            catch (SessionStoreUnavailableException) when (attempt < 10)
            {
            }
        }
    }

    private static async Task SeedAsync(RedisSessionStateStore store, string id)
    {
        var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, RedisStoreTests.Changes(new() { ["k"] = "v" }, isNew: true), default));
    }

    private RedisSessionStateStore NewStore(TimeSpan operationTimeout, IMeterFactory? meterFactory) =>
        new(new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix, OperationTimeout = operationTimeout }, meterFactory: meterFactory);

    /// <summary>A meter factory of the test's own and a listener of the abandoned-lock counter on it only.</summary>
    private sealed class MeterScope : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MeterListener _listener = new();
        private long _released;

        public MeterScope()
        {
            Factory = _services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, Factory) && instrument.Name == RedisSessionStateStore.AbandonedReleasedCounter)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _released, value));
            _listener.Start();
        }

        public IMeterFactory Factory { get; }

        public long Released => Interlocked.Read(ref _released);

        public void Dispose()
        {
            _listener.Dispose();
            _services.Dispose();
        }
    }
}
