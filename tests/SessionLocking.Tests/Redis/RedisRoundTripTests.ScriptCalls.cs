using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The commands the scripts run inside Redis per request kind (MONITOR shows them as coming from <c>lua</c>): each is
/// Redis CPU on every request, so the list is pinned and a change to it is deliberate (docs/redis-protocol.md, "Round
/// trips per request").
/// </summary>
public sealed partial class RedisRoundTripTests
{
    [Fact]
    public async Task Each_request_kind_runs_the_documented_commands_inside_Redis()
    {
        var prefix = "calls-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartHostAsync(
            o => o.PollInterval = TimeSpan.FromMinutes(5),
            app: app => app.MapPost("/remove-item", (HttpContext context, string key) =>
            {
                context.GetSessionState().Remove(key);
                return Results.Ok("ok");
            }),
            prefix: prefix);
        await using var other = await StartHostAsync(o => o.PollInterval = TimeSpan.FromMinutes(5), prefix: prefix);
        await using var third = await StartHostAsync(o => o.PollInterval = TimeSpan.FromMinutes(5), prefix: prefix);
        using var client = host.CreateClient();
        using var elsewhere = other.CreateClient();
        using var newcomer = third.CreateClient();
        await WarmUp(host);
        await WarmUp(other);
        await WarmUp(third);
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        (await client.PostAsync("/set?key=b&value=1")).Dispose();
        elsewhere.SessionId = client.SessionId;
        newcomer.SessionId = client.SessionId;

        // This server keeps the session's last version (cached loads, on by default), so its loads read no items.
        var measured = new Dictionary<string, string>
        {
            ["Required, writes"] = await CommandsRunBy(async () => (await client.PostAsync("/set?key=a&value=2")).Dispose()),
            ["Required, removes an item"] = await CommandsRunBy(async () => (await client.PostAsync("/remove-item?key=b")).Dispose()),
            ["Required, does not write"] = await CommandsRunBy(async () => Assert.Equal("2", await client.GetJsonAsync<string>("/get-required?key=a"))),
            ["ReadOnly"] = await CommandsRunBy(async () => Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"))),
            ["ReadOnly, first load on this server"] = await CommandsRunBy(async () => Assert.Equal("2", await newcomer.GetJsonAsync<string>("/get?key=a"))),
            ["ReadOnly after another server wrote"] = await CommandsRunBy(async () =>
            {
                (await elsewhere.PostAsync("/set?key=a&value=3")).Dispose();
                Assert.Equal("3", await client.GetJsonAsync<string>("/get?key=a"));
            }),
        };

        const string Acquire = "time pttl hmget hset pexpire hset pexpire";

        // The release message: SPUBLISH where the client can subscribe to sharded channels (Redis 7 has them), else PUBLISH.
        var unlock = "del " + (RedisReleaseChannels.ClientSupportsSharded ? "spublish" : "publish");
        var expected = new Dictionary<string, string>
        {
            // acquire | write-back: the token check, the slide that tells the hash is there, ONE hset for timeout,
            // fence, the changed item and the version, then the unlock.
            ["Required, writes"] = Acquire + $" | hget pexpire hset {unlock}",

            // with removals the metadata is set before the hdel (the hash never empties), the pairs after it.
            ["Required, removes an item"] = Acquire + $" | hget pexpire hset hdel hset {unlock}",
            ["Required, does not write"] = Acquire + $" | hget {unlock} hmget pexpire",
            ["ReadOnly"] = "pttl hmget pexpire",

            // no version held: the items and the version are read (HGETALL checks the record, HMGET reads the version).
            ["ReadOnly, first load on this server"] = "pttl hgetall hmget pexpire",

            // the held version is not current: the HMGET that found so read the version too, so the items follow.
            ["ReadOnly after another server wrote"] = $"time pttl hgetall hmget hset pexpire hset pexpire | hget pexpire hset {unlock} | pttl hmget hgetall pexpire",
        };
        Assert.Equal(Lines(expected), Lines(measured));
    }

    private static string Lines(Dictionary<string, string> kinds) => string.Join('\n', kinds.Select(k => k.Key + ": " + k.Value));

    /// <summary>The commands scripts ran inside Redis for <paramref name="requests"/>, in order, each script's after a '|'.</summary>
    private async Task<string> CommandsRunBy(Func<Task> requests)
    {
        await Settle();
        _monitor.Clear();
        await requests();
        await Settle();
        var scripts = new List<List<string>>();
        foreach (var match in _monitor.Select(line => MonitorLine().Match(line)).Where(m => m.Success))
        {
            var command = match.Groups["command"].Value.ToLowerInvariant();
            if (match.Groups["source"].Value != "lua")
            {
                if (command is "evalsha" or "eval")
                {
                    scripts.Add([]);
                }
            }
            else
            {
                scripts[^1].Add(command);
            }
        }

        return string.Join(" | ", scripts.Select(s => string.Join(' ', s)));
    }
}
