using System.Net;
using SessionLocking.Redis.Scripting;
using LuaScript = SessionLocking.Redis.Scripting.LuaScript;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// At connect: a Garnet that runs Lua scripts without transactions (started without <c>--lua-transaction-mode true</c>)
/// lets other connections in while a script runs, so two acquires could both take a session's lock. Garnet names itself
/// in <c>INFO server</c> (<c>garnet_version</c>) but its <c>CONFIG GET</c> does not show the flag, so the store asks
/// the server itself: a short isolation probe (Scripts/probe.atomicity.lua) while a second connection writes one of the
/// probe's keys. Redis and other servers are not probed (a Redis script blocks the whole server while it runs).
/// </summary>
internal static class GarnetAtomicityCheck
{
    /// <summary>The Garnet option that makes its scripts atomic.</summary>
    public const string Flag = "--lua-transaction-mode true";

    /// <summary>How long the probe waits for the other connection's write: what an atomic Garnet costs once per connection.</summary>
    private static readonly TimeSpan Spin = TimeSpan.FromMilliseconds(200);

    private static readonly LuaScript Probe = LuaScript.Load("atomicity probe", "probe.atomicity");

    /// <summary>A connected primary when the server says it is Garnet (<c>garnet_version</c> in <c>INFO server</c>), else null.</summary>
    public static async Task<EndPoint?> FindGarnetAsync(IConnectionMultiplexer multiplexer, TimeSpan limit)
    {
        try
        {
            // INFO through a script: StackExchange.Redis counts INFO as an admin command (IServer.Info always,
            // IDatabase.Execute from 3.x on) and refuses it without allowAdmin (as RedisEvictionPolicy does).
            var info = (string?)await multiplexer.GetDatabase()
                .ScriptEvaluateAsync("return redis.call('INFO', 'server')", flags: RedisScriptRunner.ToPrimary)
                .WaitAsync(limit).ConfigureAwait(false);
            if (info?.Contains("garnet_version:", StringComparison.Ordinal) != true)
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is RedisException or RedisCommandException or TimeoutException or InvalidOperationException or NotSupportedException)
        {
            // INFO refused or unanswered: not a Garnet we can tell; the scripts run as on Redis.
            return null;
        }

        return multiplexer.GetEndPoints().FirstOrDefault(e => multiplexer.GetServer(e) is { IsConnected: true, IsReplica: false })
            ?? multiplexer.GetEndPoints().FirstOrDefault();
    }

    /// <summary>
    /// True when the server ran the probe atomically; false when another connection's write got in while it ran.
    /// <paramref name="probeConfiguration"/> opens the second connection (closed again at once).
    /// </summary>
    public static async Task<bool> ScriptsAreAtomicAsync(IConnectionMultiplexer multiplexer, ConfigurationOptions probeConfiguration, TimeSpan limit)
    {
        var tag = "{SessionLocking:atomicity:" + Guid.NewGuid().ToString("N") + "}";
        RedisKey[] keys = [tag + ":script", tag + ":reader"];
        var database = multiplexer.GetDatabase();
        var configuration = probeConfiguration.Clone();
        configuration.ClientName = "SessionLocking-atomicity-probe";
        await using var other = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(limit).ConfigureAwait(false);
        var reader = other.GetDatabase();
        var running = database.ScriptEvaluateAsync(Probe.Text, keys, [(long)Spin.TotalMicroseconds], RedisScriptRunner.ToPrimary);
        try
        {
            // Until the script answers: an atomic server holds each write until then, so this loop ends with it.
            while (!running.IsCompleted)
            {
                await reader.StringSetAsync(keys[1], "1", TimeSpan.FromSeconds(10), flags: RedisScriptRunner.ToPrimary).WaitAsync(limit).ConfigureAwait(false);
            }

            return (long)await running.WaitAsync(limit).ConfigureAwait(false) == 0;
        }
        finally
        {
            _ = running.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _ = database.KeyDeleteAsync(keys, CommandFlags.FireAndForget | RedisScriptRunner.ToPrimary);
        }
    }

    /// <summary>The error of a store on a Garnet whose scripts are not atomic.</summary>
    public static string NotAtomic(EndPoint endpoint) =>
        $"Garnet at {endpoint} runs Lua scripts without transactions: a probe at connect saw another connection's write while its script ran, so two requests could both take a session's lock. Start Garnet with {Flag} (docs/redis-protocol.md, \"Garnet\").";
}
