using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Hostile input against the Redis store. The cookie fuzz of <c>HostileInputTests</c> (in memory, with a recording
/// store) is run here against Redis with every command Redis executed recorded (MONITOR, including the commands
/// run inside the scripts): no key and no channel outside <c>{prefix:&lt;24 chars a-z0-5&gt;}:suffix</c> was ever
/// touched, so nothing from a cookie can leave its session's hash tag. Limits, unserializable values and corrupt
/// stored data once each on Redis (the middleware logic is store-independent; what is Redis-specific is that the
/// lock is released at once and nothing reaches Redis).
/// </summary>
public sealed partial class RedisHostileInputTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private const string CookieName = SessionClient.CookieName;
    private readonly string _prefix = "hostile-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Ten_thousand_forged_cookies_on_redis_touch_no_key_outside_a_valid_sessions_hash_tag()
    {
        // A session of another application on the same Redis: its id, replayed here, must not reach its data.
        var otherPrefix = _prefix + "-other";
        string foreignId;
        await using (var other = await FaultKit.StartHostAsync(redis.Configuration, otherPrefix))
        {
            using var victim = other.CreateClient();
            (await victim.PostAsync("/set?key=a&value=secret")).Dispose();
            foreignId = victim.SessionId!;
        }

        var form = FaultKit.KeyForm(_prefix);
        var violations = new ConcurrentQueue<string>();
        var commands = new ConcurrentDictionary<string, int>();
        long lines = 0;
        using var monitor = await redis.Server.ConnectAsync();
        await monitor.MonitorAsync(line =>
        {
            Interlocked.Increment(ref lines);
            CheckMonitorLine(line, form, violations, commands);
        });

        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, operationTimeout: TimeSpan.FromSeconds(10));
        var cases = ForgedCookies(foreignId).ToArray();
        Assert.True(cases.Length >= 10_000, $"only {cases.Length} cases");
        var outcome = await Infrastructure.ForgedCookies.SendAllAsync(host.Address, cases);
        var rejectedByHttp = outcome.RefusedByHttp;

        // Every key of the server: this application's keys have the form, the other application's are untouched.
        long seen;
        do
        {
            seen = Interlocked.Read(ref lines);
            await Task.Delay(300); // until the last MONITOR lines arrived
        }
        while (Interlocked.Read(ref lines) != seen);
        monitor.Dispose();
        var keys = await FaultKit.ScanAllKeysAsync(redis.Server);
        var mine = keys.Where(k => k.StartsWith("{" + _prefix + ":", StringComparison.Ordinal)).ToArray();
        var otherForm = FaultKit.KeyForm(otherPrefix);
        output.WriteLine($"{cases.Length} forged cookies: {cases.Length - rejectedByHttp} got a fresh session, {rejectedByHttp} refused by Kestrel (400); " +
                         $"{Interlocked.Read(ref lines)} MONITOR lines checked ({string.Join(", ", commands.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}); {keys.Count} keys in Redis at the end");
        Assert.Empty(outcome.Problems.Take(10));
        Assert.Empty(violations.Take(10));
        Assert.True(cases.Length - rejectedByHttp >= 9_000, $"{rejectedByHttp} of {cases.Length} were refused by HTTP itself");
        var anyTestOfThisClass = new Regex("^\\{hostile-[0-9a-f]{8}(-other)?:[a-z0-5]{24}\\}:(session|lock)$"); // the server is this class's
        Assert.All(keys, k => Assert.True(form.IsMatch(k) || otherForm.IsMatch(k) || (!k.StartsWith("{" + _prefix, StringComparison.Ordinal) && anyTestOfThisClass.IsMatch(k)), $"key {k} outside the session key form"));
        Assert.DoesNotContain(mine, k => k.EndsWith(":lock", StringComparison.Ordinal));
        var sessions = mine.Select(k => k[..k.IndexOf('}')]).Distinct().Count();
        Assert.Equal(outcome.IssuedIds.Count, sessions); // One hash tag per fresh session, nothing else.
        Assert.Equal(outcome.IssuedIds.Count, mine.Length); // one session hash each, nothing else
        using var inspect = await redis.Server.ConnectAsync();
        Assert.Contains("secret", (await FaultKit.ItemsAsync(inspect, otherPrefix, foreignId))["a"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_over_the_size_limit_on_redis_fails_sends_nothing_and_releases_the_lock_at_once()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, o => o.MaxSessionBytes = 2000);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=" + new string('x', 900))).Dispose();
        using var inspect = await redis.Server.ConnectAsync();
        var before = await FaultKit.ItemsAsync(inspect, _prefix, client.SessionId!);

        var outcome = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=b&value=" + new string('y', 1500));

        Assert.Equal(500, outcome.Status);
        Assert.Equal(before, await FaultKit.ItemsAsync(inspect, _prefix, client.SessionId!));
        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix)); // released now, not after the lock's TTL
        Assert.True(TestLog.Has("WriteBackFailed"));
        Assert.Equal(900, (await client.GetJsonAsync<string>("/get?key=a")).Length);
    }

    [Fact]
    public async Task An_unserializable_value_on_redis_fails_sends_nothing_and_releases_the_lock_at_once()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, app: app =>
            app.MapPost("/cycle", (HttpContext c) =>
            {
                var session = c.GetSessionState();
                session["small"] = "changed";
                var node = new Node();
                node.Next = node;
                session.Set("loop", node);
                return Results.Ok();
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=small&value=original")).Dispose();

        var outcome = await FaultKit.SendAsync(client, HttpMethod.Post, "/cycle");

        Assert.Equal(500, outcome.Status);
        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix));
        Assert.Equal("original", await client.GetJsonAsync<string>("/get?key=small"));
        using var inspect = await redis.Server.ConnectAsync();
        Assert.DoesNotContain("loop", (await FaultKit.ItemsAsync(inspect, _prefix, client.SessionId!)).Keys);
    }

    [Fact]
    public async Task A_value_corrupted_in_redis_gives_a_clear_error_for_that_key_and_the_rest_stays_usable()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, app: app =>
            app.MapGet("/read", (HttpContext c, string key) =>
            {
                try
                {
                    return Results.Ok(c.GetSessionState()[key]?.ToString());
                }
                catch (SessionSerializationException ex)
                {
                    return Results.Problem(ex.Message, statusCode: 500);
                }
            }).WithSessionState(SessionStateBehavior.ReadOnly));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=good&value=fine")).Dispose();
        (await client.PostAsync("/set?key=bad&value=soon-corrupt")).Dispose();
        using (var inspect = await redis.Server.ConnectAsync())
        {
            // Written behind the application's back: bytes that are no serialized value.
            Assert.Equal(0L, await inspect.IntegerAsync("HSET", FaultKit.SessionKey(_prefix, client.SessionId!), "i:bad", "\u0001\u0000garbage"));
        }

        var bad = await FaultKit.SendAsync(client, HttpMethod.Get, "/read?key=bad");

        Assert.Equal(500, bad.Status);
        Assert.Contains("'bad'", bad.Body);
        Assert.Equal("fine", await client.GetJsonAsync<string>("/read?key=good"));
        Assert.Equal(200, (await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=other&value=1")).Status); // Required still works
        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix));
    }

    [Fact]
    public async Task A_corrupted_session_timeout_in_redis_fails_with_503_once_leaves_no_lock_and_the_next_request_starts_afresh()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = TimeSpan.FromSeconds(30);
            o.LockWaitTimeout = TimeSpan.FromSeconds(5);
        });
        var failures = 0L;
        using var listener = host.ListenToCounter("sessionlocking.store.failures", n => Interlocked.Add(ref failures, n));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=good&value=fine")).Dispose();
        var corruptId = client.SessionId!;
        using var inspect = await redis.Server.ConnectAsync();
        Assert.Equal(0L, await inspect.IntegerAsync("HSET", FaultKit.SessionKey(_prefix, corruptId), "timeout", "twenty minutes"));

        var required = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=1");
        var again = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=2");

        output.WriteLine($"corrupt timeout: Required {required}, Required again {again}");
        Assert.Equal(503, required.Status); // an error answer of the store, never an empty session under the old record
        Assert.Contains("corrupt", required.Body, StringComparison.Ordinal);
        Assert.True(TestLog.Has("RedisSessionCorrupt"));
        Assert.Equal(1L, Interlocked.Read(ref failures));
        Assert.Equal(200, again.Status); // the corrupt record was dropped: a fresh session
        Assert.True(again.Elapsed < TimeSpan.FromSeconds(3), $"the second request waited {again.Elapsed}");
        Assert.NotEqual(corruptId, client.SessionId);
        Assert.Null(await client.GetJsonAsync<string>("/get?key=good"));
        Assert.Empty(await inspect.KeysAsync(FaultKit.SessionKey(_prefix, corruptId)));
        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix));
    }

    private sealed class Node
    {
        public Node? Next { get; set; }
    }

    /// <summary>Checks the keys and channels of one MONITOR line against the session key form.</summary>
    private static void CheckMonitorLine(string line, Regex form, ConcurrentQueue<string> violations, ConcurrentDictionary<string, int> commands)
    {
        var open = line.IndexOf("] ", StringComparison.Ordinal);
        if (open < 0)
        {
            return;
        }

        var lua = line.Contains(" [0 lua] ", StringComparison.Ordinal);
        var args = MonitorArgs(line[(open + 2)..]);
        if (args.Count == 0)
        {
            return;
        }

        var command = args[0].ToUpperInvariant();
        commands.AddOrUpdate((lua ? "lua " : "") + command, 1, (_, n) => n + 1);
        IEnumerable<string> keys = command switch
        {
            "EVALSHA" or "EVAL" => args.Skip(3).Take(int.Parse(args[2])),
            "DEL" => args.Skip(1),
            "TIME" or "PING" or "INFO" or "ECHO" or "CLIENT" or "CONFIG" or "CLUSTER" or "SCRIPT" or "MONITOR" or "SELECT" => [],
            "SUBSCRIBE" or "UNSUBSCRIBE" => args.Skip(1).Where(c => c != "__Booksleeve_MasterChanged"),
            "SCAN" or "KEYS" or "MGET" or "HELLO" => [],
            "GET" when !lua && args.Count == 2 && args[1] == "__Booksleeve_TieBreak" => [], // StackExchange.Redis reads its tie-breaker at connect
            _ when args.Count > 1 => [args[1]], // HGET, HMGET, HSET, HDEL, HGETALL, GET, SET, PEXPIRE, PTTL, PUBLISH (the channel), ...
            _ => [],
        };
        foreach (var key in keys)
        {
            if (!form.IsMatch(key))
            {
                violations.Enqueue($"{key} in: {line}");
            }
        }
    }

    /// <summary>The quoted arguments of a MONITOR line (escapes as Redis writes them: \" \\ \n \r \t \a \b \xHH).</summary>
    private static List<string> MonitorArgs(string text)
    {
        var args = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] != '"')
            {
                i++;
                continue;
            }

            var value = new StringBuilder();
            i++;
            while (i < text.Length && text[i] != '"')
            {
                if (text[i] == '\\' && i + 1 < text.Length)
                {
                    var next = text[i + 1];
                    if (next == 'x' && i + 3 < text.Length)
                    {
                        value.Append((char)Convert.ToByte(text.Substring(i + 2, 2), 16));
                        i += 4;
                        continue;
                    }

                    value.Append(next switch { 'n' => '\n', 'r' => '\r', 't' => '\t', 'a' => '\a', 'b' => '\b', _ => next });
                    i += 2;
                    continue;
                }

                value.Append(text[i++]);
            }

            args.Add(value.ToString());
            i++;
        }

        return args;
    }

    /// <summary>
    /// The shared forged cookies plus ones aimed at Redis keys: a prefix of this application and of another one,
    /// a Lua injection attempt, and the well-formed id of another application's session.
    /// </summary>
    private IEnumerable<byte[][]> ForgedCookies(string foreignId) =>
        Infrastructure.ForgedCookies.Generate(
            20261122,
            ["{" + _prefix + ":", "{" + _prefix + ":x}", "{" + _prefix + "-other:" + foreignId + "}", "]]..redis.call('FLUSHALL')..[[", "session:"],
            foreignId);
}
