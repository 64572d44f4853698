using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Stores;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The classic keep-alive of requests that need no session runs in the background: a store that does not answer
/// delays no response, and the work it can pile up is bounded.
/// </summary>
public sealed class KeepAliveTests
{
    [Fact]
    public async Task A_store_that_does_not_answer_keep_alives_delays_no_page_and_piles_up_at_most_the_limit()
    {
        var store = new StalledKeepAliveStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await TestHost.StartAsync(
            o => o.StoreCircuitBreaker.Enabled = false, // the store does not fail, it is only slow: nothing to open
            b => b.AddStore(_ => store),
            s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug)));
        var requests = LockedSessionMiddleware.MaxKeepAlivesInFlight + 200;

        var answers = await Task.WhenAll(Enumerable.Range(0, requests).Select(async _ =>
        {
            using var client = host.CreateClient();
            client.SessionId = SessionIds.Create(); // a cookie: every Disabled request slides its session
            using var response = await client.GetAsync("/disabled");
            return response.StatusCode;
        }));

        Assert.All(answers, status => Assert.Equal(HttpStatusCode.OK, status)); // none waited for the stalled store
        Assert.Equal(LockedSessionMiddleware.MaxKeepAlivesInFlight, store.Started);
        Assert.True(TestLog.Has("KeepAliveSkipped"));

        // The store answers again: the running keep-alives end, and the next page's keep-alive is sent.
        store.Answer();
        await FaultKit.Until(() => store.Finished == LockedSessionMiddleware.MaxKeepAlivesInFlight, TimeSpan.FromSeconds(10), "the keep-alives ended");
        using var later = host.CreateClient();
        later.SessionId = SessionIds.Create();
        (await later.GetAsync("/disabled")).Dispose();
        await FaultKit.Until(() => store.Started == LockedSessionMiddleware.MaxKeepAlivesInFlight + 1, TimeSpan.FromSeconds(10), "a keep-alive ran after the store answered");
    }

    /// <summary>A store whose keep-alives wait until the test lets them answer.</summary>
    private sealed class StalledKeepAliveStore(ISessionStateStore inner) : DelegatingStore(inner)
    {
        private readonly TaskCompletionSource _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;
        private int _finished;

        public int Started => Volatile.Read(ref _started);

        public int Finished => Volatile.Read(ref _finished);

        public void Answer() => _answer.TrySetResult();

        public override async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            await _answer.Task;
            Interlocked.Increment(ref _finished);
        }

    }
}
