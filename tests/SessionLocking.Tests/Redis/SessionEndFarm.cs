using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>Servers with an <c>OnSessionEnd</c> handler on one Redis deployment, and the scenario both Session_End test classes run.</summary>
internal static class SessionEndFarm
{
    public static readonly TimeSpan ShortTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Three servers, <paramref name="sessions"/> sessions made round the servers; every other one abandoned on another
    /// server with an item set just before <c>Abandon()</c>, the rest left to time out: every end raised once, with the
    /// right reason and items, by more than one server. The timeout is 6 s, so that on a loaded machine no session times out
    /// between the request that made it and the one that abandons it.
    /// </summary>
    public static async Task RaisesEveryEndOnceAsync(string configuration, string prefix, SessionEndRecorder ends, int sessions, TimeSpan? sweep = null, Func<Task>? midway = null)
    {
        await using var a = await StartHostAsync(configuration, prefix, ends, "a", o => Farm(o, sweep));
        await using var b = await StartHostAsync(configuration, prefix, ends, "b", o => Farm(o, sweep));
        await using var c = await StartHostAsync(configuration, prefix, ends, "c", o => Farm(o, sweep));
        var hosts = new[] { a, b, c };
        var expected = new Dictionary<string, (SessionEndReason Reason, string Value)>();
        var sync = new Lock();
        await Parallel.ForEachAsync(Enumerable.Range(0, sessions), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            using var client = hosts[i % 3].CreateClient();
            (await client.PostAsync("/set?key=seat&value=s" + i)).Dispose();
            var abandon = i % 2 == 0;
            if (abandon)
            {
                using var other = hosts[(i + 1) % 3].CreateClient();
                other.SessionId = client.SessionId;
                (await other.PostAsync($"/set-then-abandon?key=seat&value=a{i}")).Dispose();
            }

            lock (sync)
            {
                expected[client.SessionId!] = abandon ? (SessionEndReason.Abandoned, "a" + i) : (SessionEndReason.Timeout, "s" + i);
            }
        });

        if (midway is not null)
        {
            await midway();
        }

        await ends.WaitForAsync(sessions, TimeSpan.FromSeconds(120));

        // More sweeps of every server: still none twice.
        await Task.Delay(TimeSpan.FromSeconds(1) + (sweep ?? TimeSpan.Zero) * 2);
        var raised = ends.All;
        Assert.Equal(sessions, raised.Count);
        Assert.Equal(sessions, raised.Select(r => r.SessionId).Distinct().Count());
        foreach (var end in raised)
        {
            var (reason, value) = expected[end.SessionId];
            Assert.Equal(reason, end.Reason);
            Assert.Equal(value, end.Items["seat"]);
        }

        Assert.True(raised.Select(r => r.Server).Distinct().Count() > 1, "only one server raised ends");
    }

    private static void Farm(LockedSessionOptions options, TimeSpan? sweep)
    {
        options.Timeout = TimeSpan.FromSeconds(6);
        options.SessionEndSweepInterval = sweep ?? options.SessionEndSweepInterval;
    }

    public static Task<TestHost> StartHostAsync(string configuration, string prefix, SessionEndRecorder ends, string name, Action<LockedSessionOptions>? options = null) =>
        TestHost.StartAsync(
            o =>
            {
                o.Timeout = ShortTimeout;
                o.SessionEndSweepInterval = TimeSpan.FromMilliseconds(200);
                o.Events.OnSessionEnd = ends.Handler(name);
                o.RequestQueueLimitPerSession = 1000;
                options?.Invoke(o);
            },
            store => store.AddRedisStore(o =>
            {
                o.Configuration = configuration;
                o.KeyPrefix = prefix;
            }),
            configureApp: MapSetThenAbandon);

    public static void MapSetThenAbandon(WebApplication app) =>
        app.MapPost("/set-then-abandon", (HttpContext context, string key, string value) =>
        {
            context.GetSessionState()[key] = value;
            context.GetSessionState().Abandon();
            return Results.Ok();
        });
}
