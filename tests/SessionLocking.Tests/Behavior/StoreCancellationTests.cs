using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Issue 18, "the request's token flows to the store": a client that leaves cancels the lock-taking store call itself,
/// so a store that can stop the call does (the store contract says it then leaves no lock). On 8540710 the middleware
/// passed <c>CancellationToken.None</c>, so the stores' cancellation branches never ran from a request.
/// </summary>
public sealed class StoreCancellationTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_client_that_leaves_cancels_the_lock_taking_store_call()
    {
        var store = new CancellableStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromSeconds(30);
                o.LockWaitTimeout = TimeSpan.FromSeconds(10);
            },
            b => b.Services.AddSingleton<ISessionStateStore>(store));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        store.HoldNextExclusive();
        using (var leaving = new CancellationTokenSource())
        {
            var request = client.PostAsync("/set?key=a&value=never", leaving.Token);
            var token = await store.Held.WaitAsync(Patience);
            Assert.True(token.CanBeCanceled, "the store's lock-taking call got a token that can never be cancelled");
            await leaving.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        await store.Cancelled.WaitAsync(Patience);
        var next = Stopwatch.StartNew();
        using var after = await client.PostAsync("/set?key=a&value=2");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(next.Elapsed < TimeSpan.FromSeconds(3), $"the next request waited {next.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>An in-memory store whose next exclusive get waits, taking nothing, until its token is cancelled.</summary>
    private sealed class CancellableStore(ISessionStateStore inner) : DelegatingStore(inner)
    {
        private readonly TaskCompletionSource<CancellationToken> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _hold;

        public Task<CancellationToken> Held => _held.Task;

        public Task Cancelled => _cancelled.Task;

        public void HoldNextExclusive() => Volatile.Write(ref _hold, 1);

        public override async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _hold, 0) == 1)
            {
                _held.TrySetResult(cancellationToken);
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
                }
                finally
                {
                    _cancelled.TrySetResult();
                }
            }

            return await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);
        }

    }
}
