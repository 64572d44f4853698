using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// The write-back (the end of a Required request) meets a Redis that is paused or gone. Whether or not the response
/// had started, the client must see a failure, never a normal, complete response.
/// </summary>
public sealed class RedisWriteBackFaultTests(ITestOutputHelper output)
{
    private readonly string _prefix = "wbfault-" + Guid.NewGuid().ToString("N")[..8];

    public enum Fault
    {
        /// <summary>CLIENT PAUSE ALL, longer than the operation timeout: Redis is there but does not answer.</summary>
        Pause,

        /// <summary>SIGKILL: the connection is gone.</summary>
        Crash,
    }

    [Theory]
    [InlineData(Fault.Pause, "HTTP/1.1")]
    [InlineData(Fault.Crash, "HTTP/1.1")]
    public async Task A_write_back_that_fails_after_the_body_was_flushed_never_reaches_the_client_as_a_complete_response(Fault fault, string version)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await StartHostAsync(redis);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        host.Gate.Reset();

        var exchange = RawExchange.SendAsync(host.Address, "POST", "/faults/flush-then-hold?value=stale", client.SessionId, version);
        await host.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        await InjectAsync(redis, fault);
        host.Gate.Open();
        var result = await exchange;

        output.WriteLine($"{fault}, {version}: the client received {result}");
        Assert.Equal(200, result.Status); // The head went out with the flushed body ...
        Assert.StartsWith("body-stale", result.Body);
        Assert.False(result.Complete, $"a failed write-back reached the client as a complete response: {result}"); // ... but never the end.
        Assert.Contains(TestLog.Events, e => e.Id.Name == "WriteBackFailed");
        await AssertRecoversAsync(redis, host, client, fault);
    }

    /// <summary>
    /// HTTP/1.0 has no chunks: a response without a length ends when the connection closes, so a cut-off response
    /// would look complete (also to a proxy speaking HTTP/1.0 upstream, nginx's default). The middleware holds
    /// HTTP/1.0 responses of Required requests until the write-back succeeded: the failure is a 500.
    /// </summary>
    [Theory]
    [InlineData(Fault.Pause)]
    [InlineData(Fault.Crash)]
    public async Task Over_HTTP_1_0_a_write_back_that_fails_after_the_body_was_flushed_is_a_500_since_the_response_waits_for_the_write_back(Fault fault)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await StartHostAsync(redis);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        host.Gate.Reset();

        var exchange = RawExchange.SendAsync(host.Address, "POST", "/faults/flush-then-hold?value=stale", client.SessionId, "HTTP/1.0");
        await host.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        await InjectAsync(redis, fault);
        host.Gate.Open();
        var result = await exchange;

        output.WriteLine($"{fault}, HTTP/1.0: the client received {result}");
        Assert.Equal(500, result.Status);
        Assert.DoesNotContain("body-stale", result.Body);
        await AssertRecoversAsync(redis, host, client, fault);
    }

    [Fact]
    public async Task Over_HTTP_1_0_a_required_response_that_was_written_back_arrives_whole_with_its_length_and_cookie()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await StartHostAsync(redis);
        host.Gate.Reset();
        host.Gate.Open();

        var flushed = await RawExchange.SendAsync(host.Address, "POST", "/faults/flush-then-hold?value=fine", null, "HTTP/1.0");
        var held = await RawExchange.SendAsync(host.Address, "POST", "/hold?value=sized", null, "HTTP/1.0");

        output.WriteLine($"HTTP/1.0: {flushed}; {held}");
        Assert.Equal(200, flushed.Status);
        Assert.Equal("body-fine", flushed.Body);
        Assert.StartsWith(SessionClient.CookieName + "=", flushed.Headers["Set-Cookie"]);
        Assert.Equal(200, held.Status);
        Assert.Equal("content-length", held.Framing); // the endpoint's length is kept: the write-back is already done
        Assert.True(held.Complete);
        Assert.Equal("sized", held.Body);
    }

    [Theory]
    [InlineData(Fault.Pause)]
    [InlineData(Fault.Crash)]
    public async Task A_write_back_that_fails_before_the_response_started_is_a_500(Fault fault)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await StartHostAsync(redis);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        host.Gate.Reset();

        var holder = FaultKit.SendAsync(client, HttpMethod.Post, "/faults/hold-quiet?value=stale");
        await host.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        await InjectAsync(redis, fault);
        host.Gate.Open();
        var outcome = await holder;

        output.WriteLine($"{fault}: the holder saw {outcome}");
        Assert.Equal(500, outcome.Status);
        Assert.True(outcome.Elapsed < TimeSpan.FromSeconds(15), $"the failed write-back took {outcome.Elapsed}");
        await AssertRecoversAsync(redis, host, client, fault);
    }

    private static async Task InjectAsync(RedisServer redis, Fault fault)
    {
        if (fault == Fault.Pause)
        {
            using var admin = await redis.ConnectAsync();
            Assert.Equal("OK", await admin.StringAsync("CLIENT", "PAUSE", "2500", "ALL"));
        }
        else
        {
            redis.Kill();
        }
    }

    private Task<TestHost> StartHostAsync(RedisServer redis) =>
        FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = ExecutionTimeout;
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        }, operationTimeout: TimeSpan.FromMilliseconds(500));

    private static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// After the fault the same host serves sessions again; a lock the failed write-back left behind lives at most
    /// its TTL (ExecutionTimeout), after which the session is usable again with the data of before.
    /// </summary>
    private async Task AssertRecoversAsync(RedisServer redis, TestHost host, SessionClient holderClient, Fault fault)
    {
        if (fault == Fault.Crash)
        {
            await redis.RestartAsync();
        }

        using var after = host.CreateClient();
        await FaultKit.UntilAsync(async () => (await FaultKit.SendAsync(after, HttpMethod.Post, "/set?key=a&value=back")).Status == 200, TimeSpan.FromSeconds(30), "the host serves sessions again");
        Assert.Equal("back", await after.GetJsonAsync<string>("/get?key=a"));

        var locks = await FaultKit.LockKeysAsync(redis, _prefix);
        output.WriteLine($"locks left right after the fault: {string.Join(", ", locks.Select(l => $"{l.Key} ttl {l.Value} ms"))}");
        Assert.All(locks.Values, ttl => Assert.InRange(ttl, -1, (long)ExecutionTimeout.TotalMilliseconds));
        Assert.DoesNotContain(-1L, locks.Values); // every lock has a TTL
        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis, _prefix)).Count == 0, ExecutionTimeout + TimeSpan.FromSeconds(10), "no lock left after its TTL");

        if (fault == Fault.Pause)
        {
            // The session is usable again and holds the data of before; the failed request's change is either
            // absent or (if Redis ran the timed-out write-back when the pause ended) present: an unknown outcome.
            var held = await holderClient.GetJsonAsync<string>("/get-required?key=held");
            output.WriteLine($"after the pause the failed request's change is {(held is null ? "absent" : "present")}");
            Assert.Contains(held, new[] { null, "stale" });
            Assert.Equal("before", await holderClient.GetJsonAsync<string>("/get?key=w"));
        }
    }
}
