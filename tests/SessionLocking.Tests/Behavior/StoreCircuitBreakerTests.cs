using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The store circuit breaker on any store, with time under the test's control: it opens after failures, fails session
/// requests without a store call while open, probes after its break, and closes when the probe succeeds. Off, every
/// request asks the store. (On a real Redis outage: Faults/RedisOutageFailFastTests.)
/// </summary>
public sealed class StoreCircuitBreakerTests
{
    [Fact]
    public async Task Opens_after_failures_then_fails_fast_without_store_calls_and_closes_after_a_successful_probe()
    {
        var time = new ManualTimeProvider();
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(time));
        await using var host = await StartAsync(time, store, enabled: true);
        using var client = host.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/set?key=a&value=1")).StatusCode);

        store.FailAll = true;
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/set?key=a&value=2")).StatusCode);
        }

        // With the first request's success, three failures of four calls (MinimumThroughput 4, FailureRatio 0.5) opened it.
        var callsWhenOpen = store.FailedCalls;
        Assert.Equal(3, callsWhenOpen);
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.PostAsync("/set?key=a&value=3");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("The session store is unavailable.", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(callsWhenOpen, store.FailedCalls); // open: not one more call reached the store
        Assert.True(TestLog.Has("StoreCircuitOpened"));

        // The store is back, but the break has not passed: still failing fast.
        store.FailAll = false;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/set?key=a&value=4")).StatusCode);

        // After the break, the next request probes the store, succeeds and closes the circuit; the data is intact.
        time.Advance(LockedSessionDefaults.StoreCircuitBreakDuration);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/set?key=b&value=5")).StatusCode);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal("5", await client.GetJsonAsync<string>("/get?key=b"));
        Assert.True(TestLog.Has("StoreCircuitClosed"));
    }

    [Fact]
    public async Task Turned_off_every_request_asks_the_store()
    {
        var time = new ManualTimeProvider();
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(time));
        await using var host = await StartAsync(time, store, enabled: false);
        using var client = host.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/set?key=a&value=1")).StatusCode);

        store.FailAll = true;
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/set?key=a&value=2")).StatusCode);
        }

        Assert.Equal(10, store.FailedCalls);
    }

    private static Task<TestHost> StartAsync(ManualTimeProvider time, SwitchableFaultStore store, bool enabled) =>
        TestHost.StartAsync(
            o => o.StoreCircuitBreaker.Enabled = enabled,
            b => b.AddStore(_ => store),
            s => s.AddSingleton<TimeProvider>(time));
}
