using System.Diagnostics;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// A Redis outage as users live it: once the store is known to be down, session requests answer 503 at once instead of
/// each waiting out the operation timeout; pages with no session (Disabled, carrying the cookie) are not slowed by the
/// keep-alive at all; and sessions work again within about a second of Redis's return.
/// </summary>
[Collection(SerialFaults.Name)]
public sealed class RedisOutageFailFastTests(ITestOutputHelper output)
{
    // Long enough that a request which waits it out is unmistakable next to one that fails fast.
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(300);
    private const string Unavailable = "The session store is unavailable.";

    [Fact]
    public async Task During_an_outage_session_requests_fail_fast_pages_without_session_are_unaffected_and_recovery_is_prompt()
    {
        await using var redis = await RedisServer.StartAsync();
        var prefix = "failfast-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, prefix, operationTimeout: OperationTimeout);
        using var client = host.CreateClient(TimeSpan.FromSeconds(30));
        Assert.Equal(200, (await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=before")).Status);

        redis.Kill();
        var outage = Stopwatch.StartNew();

        // Session requests, three at a time, for six seconds of outage: Required and ReadOnly, each with the cookie.
        var session = new List<(TimeSpan SentAt, FaultKit.Outcome Outcome)>();
        var withoutSession = new List<FaultKit.Outcome>();
        while (outage.Elapsed < TimeSpan.FromSeconds(6))
        {
            var sentAt = outage.Elapsed;
            var batch = await Task.WhenAll(
                FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=during"),
                FaultKit.SendAsync(client, HttpMethod.Get, "/get?key=a"),
                FaultKit.SendAsync(client, HttpMethod.Post, "/increment"));
            session.AddRange(batch.Select(o => (sentAt, o)));
            withoutSession.Add(await FaultKit.SendAsync(client, HttpMethod.Get, "/disabled")); // keep-alive with the cookie
        }

        foreach (var (sentAt, outcome) in session.Where(s => s.Outcome.Elapsed > Fast).Take(20))
        {
            output.WriteLine($"slow session request sent at {sentAt.TotalMilliseconds:0} ms: {outcome}");
        }

        output.WriteLine($"session requests: {session.Count}, {session.Count(s => s.Outcome.Elapsed > Fast)} slower than {Fast.TotalMilliseconds} ms");

        output.WriteLine($"pages without session: {withoutSession.Count}, slowest {withoutSession.Max(o => o.Elapsed.TotalMilliseconds):0} ms");

        // Every session request fails with the documented 503, never with a session; after the first few (those that
        // found the store down), the answers come at once. A probe that tests whether the store is back may wait out
        // the operation timeout, but at most one per probe interval, not every request.
        Assert.All(session, s =>
        {
            Assert.Equal(503, s.Outcome.Status);
            Assert.Equal(Unavailable, s.Outcome.Body);
        });
        var afterTheFirstFew = session.Skip(6).ToArray();
        Assert.True(afterTheFirstFew.Length >= 30, $"only {afterTheFirstFew.Length} session requests after the first few");
        var slow = afterTheFirstFew.Count(s => s.Outcome.Elapsed > Fast);
        Assert.True(slow <= afterTheFirstFew.Length / 10, $"{slow} of {afterTheFirstFew.Length} session requests after the first few took longer than {Fast.TotalMilliseconds} ms");

        // Pages with no session state never wait for the store, cookie or not.
        Assert.All(withoutSession, o =>
        {
            Assert.Equal(200, o.Status);
            Assert.True(o.Elapsed < Fast, $"a Disabled page took {o.Elapsed} during the outage");
        });

        // Redis comes back (empty: it was killed): sessions work again within about a second.
        await redis.RestartAsync();
        var back = Stopwatch.StartNew();
        using var fresh = host.CreateClient(TimeSpan.FromSeconds(30));
        await FaultKit.UntilAsync(async () => (await FaultKit.SendAsync(fresh, HttpMethod.Post, "/set?key=x&value=1")).Status == 200, TimeSpan.FromSeconds(30), "sessions work again");
        output.WriteLine($"sessions served again {back.ElapsedMilliseconds} ms after Redis was back");
        Assert.True(back.Elapsed < TimeSpan.FromSeconds(1.5), $"sessions were served again only {back.Elapsed} after Redis was back");
    }
}
