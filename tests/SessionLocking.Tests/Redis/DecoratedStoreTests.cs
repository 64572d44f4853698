using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// A decorator around the store (here the test suite's RecordingStore, as an application would add logging or retries)
/// keeps every capability of the store. On 4da703d the coordinator looked for release notifications on the registered
/// store itself (<c>Inner as ISessionReleaseNotifications</c>), so any decorator silently turned wake-on-release off and
/// a waiter on another server slept until its poll. Notifications are now a service of their own.
/// </summary>
public sealed class DecoratedStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task A_decorated_store_still_wakes_a_waiter_on_another_server_at_once()
    {
        var prefix = "decorated-" + Guid.NewGuid().ToString("N")[..8];
        var decorators = new List<RecordingStore>();
        await using var first = await StartAsync(prefix, decorators);
        await using var second = await StartAsync(prefix, decorators);
        using var a = first.CreateClient();
        using var b = second.CreateClient(TimeSpan.FromSeconds(60));
        (await a.PostAsync("/set?key=k&value=1")).Dispose();
        b.SessionId = a.SessionId;

        var holder = await first.HoldLockAsync(a, "held");
        var waiter = b.PostAsync("/set?key=k&value=2");
        await Task.Delay(300);
        var released = Stopwatch.StartNew();
        first.Gate.Open();
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        using var response = await waiter;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(5), $"the waiter on the other server went {released.Elapsed.TotalSeconds:0.0} s after the release (its poll is 20 s)");
        Assert.Equal(2, decorators.Count);
        Assert.All(decorators, d => Assert.True(d.Calls > 0));
        Assert.Equal("2", await a.GetJsonAsync<string>("/get?key=k"));
    }

    private Task<TestHost> StartAsync(string prefix, List<RecordingStore> decorators) =>
        TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromSeconds(20);
                o.LockWaitTimeout = TimeSpan.FromSeconds(60);
            },
            store =>
            {
                store.AddRedisStore(o =>
                {
                    o.Configuration = redis.Configuration;
                    o.KeyPrefix = prefix;
                });

                // Decorate as an application would: wrap whatever ISessionStateStore registration is there.
                var original = store.Services.Last(d => d.ServiceType == typeof(ISessionStateStore));
                store.Services.Remove(original);
                store.Services.AddSingleton<ISessionStateStore>(sp =>
                {
                    var inner = (ISessionStateStore)original.ImplementationFactory!(sp);
                    var decorator = new RecordingStore(inner);
                    lock (decorators)
                    {
                        decorators.Add(decorator);
                    }

                    return decorator;
                });
            });
}
