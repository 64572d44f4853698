using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Stores;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Defect 1 of issue "Airtight lock lifecycle", the middleware's part: the client leaves while its lock-taking store
/// call is on its way. Before the fix the call was abandoned: the store still took the lock, nobody knew its token,
/// and the session's next request waited for the lock's whole time to live. (The Redis store's own timeout is the
/// store's part, tested with CLIENT PAUSE in the Redis fault suite.)
/// </summary>
public sealed class AbandonedAcquireTests
{
    [Fact]
    public async Task A_lock_taken_after_the_client_left_is_released_as_soon_as_the_store_answers()
    {
        var (store, host) = await StartGatedAsync();
        await using var _ = host;
        long released = 0;
        using var listener = host.ListenToCounter("sessionlocking.lock.abandoned_released", n => Interlocked.Add(ref released, n));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var locks = host.Services.GetRequiredService<SessionLockCoordinator>();

        store.Close();
        using (var leaving = new CancellationTokenSource())
        {
            var request = client.PostAsync("/set?key=a&value=never", leaving.Token);
            await store.Entered.WaitAsync(TimeSpan.FromSeconds(30));
            await leaving.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        await FaultKit.Until(() => locks.AbandonedCallsWatched == 1, TimeSpan.FromSeconds(10), "the server noticed the client left");
        store.Open();
        await FaultKit.Until(() => Interlocked.Read(ref released) == 1, TimeSpan.FromSeconds(10), "the abandoned lock was released");
        var next = Stopwatch.StartNew();
        using var after = await client.PostAsync("/set?key=a&value=2");

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(next.Elapsed < TimeSpan.FromSeconds(3), $"the next request waited {next.Elapsed.TotalSeconds:0.0} s for a lock nobody held");
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal(0, locks.AbandonedCallsWatched);
        Assert.True(TestLog.Has("AbandonedLockReleased"));
    }

    [Fact]
    public async Task A_waiter_behind_an_abandoned_acquire_goes_when_its_lock_is_released()
    {
        var (store, host) = await StartGatedAsync();
        await using var _ = host;
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var locks = host.Services.GetRequiredService<SessionLockCoordinator>();

        store.Close();
        using var leaving = new CancellationTokenSource();
        var abandoned = client.PostAsync("/set?key=a&value=never", leaving.Token);
        await store.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await FaultKit.Until(() => locks.AbandonedCallsWatched == 1, TimeSpan.FromSeconds(10), "the server noticed the client left");

        // The gate lets the abandoned call take the lock first; the next request finds it held and queues.
        store.OpenAfterFirst();
        var waiter = Stopwatch.StartNew();
        using var after = await client.PostAsync("/set?key=a&value=2");

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(waiter.Elapsed < TimeSpan.FromSeconds(5), $"the waiter took {waiter.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>
    /// Issue 17 item 4, the middleware's part: the lock's owner exists from the moment the coordinator hands the lock
    /// over, and anything that fails before the request holds it (here the acquire span's listener) releases it. On
    /// 005cd90 the owner was made, then the span was finished outside any <c>using</c>: the lock stayed for its TTL.
    /// </summary>
    [Fact]
    public async Task A_failure_between_the_acquire_and_the_endpoint_leaves_no_lock()
    {
        var store = new InMemorySessionStateStore(TimeProvider.System);
        await using var host = await TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromSeconds(30);
                o.LockWaitTimeout = TimeSpan.FromSeconds(10);
            },
            b => b.Services.AddSingleton<ISessionStateStore>(store));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var sessionKey = new SessionKey(client.SessionId!).ToString();

        using (FailWhenAcquireSpanEnds(sessionKey))
        {
            using var failed = await client.PostAsync("/set?key=a&value=never");
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        }

        var probe = await store.GetSharedAsync(client.SessionId!, default);
        Assert.NotEqual(SessionStoreStatus.Locked, probe.Status);
        var next = Stopwatch.StartNew();
        using var after = await client.PostAsync("/set?key=a&value=2");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(next.Elapsed < TimeSpan.FromSeconds(3), $"the next request waited {next.Elapsed.TotalSeconds:0.0} s for a lock nobody held");
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>A span listener that throws when this session's acquire span ends (other sessions, and so other tests, are untouched).</summary>
    private static ActivityListener FailWhenAcquireSpanEnds(string sessionKey)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "SessionLocking",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "sessionlocking.acquire" && activity.GetTagItem("sessionlocking.session") as string == sessionKey)
                {
                    throw new InvalidOperationException("A span listener failed.");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>A host on a gated in-memory store; polling is slow on purpose, so only a release lets a waiter go in time.</summary>
    private static async Task<(GatedExclusiveStore Store, TestHost Host)> StartGatedAsync()
    {
        var store = new GatedExclusiveStore(new InMemorySessionStateStore(TimeProvider.System));
        var host = await TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromSeconds(30);
                o.ExecutionTimeout = TimeSpan.FromSeconds(60);
                o.LockWaitTimeout = TimeSpan.FromSeconds(10);
            },
            b => b.Services.AddSingleton<ISessionStateStore>(store));
        return (store, host);
    }

    /// <summary>
    /// An in-memory store whose exclusive gets wait at a gate the test opens: a slow store, or a stalled Redis, that
    /// does not observe cancellation once a call is on its way (a store may; the middleware must not depend on it).
    /// </summary>
    private sealed class GatedExclusiveStore(ISessionStateStore inner) : DelegatingStore(inner)
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile TaskCompletionSource? _gate;
        private int _passFirstOnly;

        public Task Entered => _entered.Task;

        public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _gate?.TrySetResult();

        /// <summary>Lets the waiting call through, then lets later calls through only after it took the lock.</summary>
        public void OpenAfterFirst()
        {
            Volatile.Write(ref _passFirstOnly, 1);
            Open();
        }

        public override async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
        {
            if (_gate is { } gate)
            {
                _entered.TrySetResult();
                await gate.Task;

                // The call is past the point where the store can still give up on it (its command is on the wire):
                // the request's token no longer stops it, and the lock it takes is the middleware's to release.
                var result = await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, CancellationToken.None);
                if (Volatile.Read(ref _passFirstOnly) == 1)
                {
                    _gate = null;
                }

                return result;
            }

            return await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);
        }

    }
}
