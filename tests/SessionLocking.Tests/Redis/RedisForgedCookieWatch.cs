using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using SessionLocking.Tests.Behavior;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The forged-cookie run on the Redis store, seen from inside Redis: every command Redis executed is recorded
/// (MONITOR, including the commands run inside the scripts), and no key and no channel outside
/// <c>{prefix:&lt;24 chars a-z0-5&gt;}:suffix</c> was ever touched, so nothing from a cookie can leave its session's
/// hash tag. A session of another application on the same servers, its id replayed, keeps its data. At the end every
/// key of the servers has the form, and there is exactly one session hash per fresh session and no lock.
/// </summary>
internal sealed class RedisForgedCookieWatch : SessionBehaviorTests.ForgedCookieWatch
{
    private readonly IRedisDeployment _deployment;
    private readonly string _prefix;
    private readonly string _otherPrefix;
    private readonly string _prefixStem;
    private readonly string _foreignId;
    private readonly List<RespClient> _monitors = [];
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<string, int> _commands = new();
    private long _lines;

    private RedisForgedCookieWatch(IRedisDeployment deployment, string prefix, string prefixStem, string foreignId)
    {
        _deployment = deployment;
        _prefix = prefix;
        _otherPrefix = prefix + "-other";
        _prefixStem = prefixStem;
        _foreignId = foreignId;
    }

    public override int Seed => 20261122;

    /// <summary>A prefix of this application and of another one, a Lua injection attempt, and a bare key name.</summary>
    public override IEnumerable<string> Aimed =>
        ["{" + _prefix + ":", "{" + _prefix + ":x}", "{" + _otherPrefix + ":" + _foreignId + "}", "]]..redis.call('FLUSHALL')..[[", "session:"];

    public override string? ForeignId => _foreignId;

    /// <summary>Stores a session of another application, then starts MONITOR on every server (when they can).</summary>
    public static async Task<RedisForgedCookieWatch> StartAsync(IRedisDeployment deployment, string prefix, string prefixStem, bool monitor)
    {
        // A session of another application on the same Redis: its id, replayed here, must not reach its data.
        string foreignId;
        await using (var other = await FaultKit.StartHostAsync(deployment.Configuration, prefix + "-other"))
        {
            using var victim = other.CreateClient();
            (await victim.PostAsync("/set?key=a&value=secret")).Dispose();
            foreignId = victim.SessionId!;
        }

        var watch = new RedisForgedCookieWatch(deployment, prefix, prefixStem, foreignId);
        if (monitor)
        {
            var form = FaultKit.KeyForm(prefix);
            foreach (var server in deployment.Servers)
            {
                var client = await server.ConnectAsync();
                watch._monitors.Add(client);
                await client.MonitorAsync(line =>
                {
                    Interlocked.Increment(ref watch._lines);
                    CheckMonitorLine(line, form, watch._violations, watch._commands);
                });
            }
        }

        return watch;
    }

    public override async Task CheckAsync(ForgedCookies.Outcome outcome, ITestOutputHelper output)
    {
        // Every key of the servers: this application's keys have the form, the other application's are untouched.
        long seen;
        do
        {
            seen = Interlocked.Read(ref _lines);
            await Task.Delay(300); // until the last MONITOR lines arrived
        }
        while (Interlocked.Read(ref _lines) != seen);
        StopMonitors();
        var keys = new List<string>();
        foreach (var server in _deployment.Servers)
        {
            keys.AddRange(await FaultKit.ScanAllKeysAsync(server));
        }

        var form = FaultKit.KeyForm(_prefix);
        var mine = keys.Where(k => k.StartsWith("{" + _prefix + ":", StringComparison.Ordinal)).ToArray();
        var otherForm = FaultKit.KeyForm(_otherPrefix);
        output.WriteLine($"{Interlocked.Read(ref _lines)} MONITOR lines checked ({string.Join(", ", _commands.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}); {keys.Count} keys in Redis at the end");
        Assert.Empty(_violations.Take(10));
        var anyTestOfThisClass = new Regex("^\\{" + Regex.Escape(_prefixStem) + "-[0-9a-f]{8}(-other)?:[a-z0-5]{24}\\}:(session|lock)$"); // the servers are this class's
        Assert.All(keys, k => Assert.True(form.IsMatch(k) || otherForm.IsMatch(k) || (!k.StartsWith("{" + _prefix, StringComparison.Ordinal) && anyTestOfThisClass.IsMatch(k)), $"key {k} outside the session key form"));
        Assert.DoesNotContain(mine, k => k.EndsWith(":lock", StringComparison.Ordinal));
        var sessions = mine.Select(k => k[..k.IndexOf('}')]).Distinct().Count();
        Assert.Equal(outcome.IssuedIds.Count, sessions); // One hash tag per fresh session, nothing else.
        Assert.Equal(outcome.IssuedIds.Count, mine.Length); // one session hash each, nothing else
        using var inspect = await RedisKeysOf.ConnectToOwnerAsync(_deployment.Servers, "{" + _otherPrefix + ":" + _foreignId + "}");
        Assert.Contains("secret", (await FaultKit.ItemsAsync(inspect, _otherPrefix, _foreignId))["a"], StringComparison.Ordinal);
    }

    public override ValueTask DisposeAsync()
    {
        StopMonitors();
        return ValueTask.CompletedTask;
    }

    private void StopMonitors()
    {
        foreach (var monitor in _monitors)
        {
            monitor.Dispose();
        }

        _monitors.Clear();
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
            "TIME" or "PING" or "INFO" or "ECHO" or "CLIENT" or "CONFIG" or "CLUSTER" or "SCRIPT" or "MONITOR" or "SELECT" or "COMMAND" => [], // COMMAND INFO: newer clients ask at connect
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
}
