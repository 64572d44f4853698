using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Failover;

/// <summary>
/// The store on a Sentinel-managed Redis (one primary, one replica, three sentinels on loopback): it follows the new
/// primary after a failover and answers "unavailable" while there is none; fencing and the token floor across a
/// promotion that lost a lock; durable writes (<see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/>).
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class RedisSentinelStoreTests(ITestOutputHelper output)
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "sentinel-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Through_the_sentinels_the_store_follows_the_new_primary_and_fails_clearly_while_there_is_none()
    {
        await using var cluster = await SentinelCluster.StartAsync();
        await using var store = NewStore(cluster.Configuration, minReplicas: 1);
        var id = SessionIds.Create();
        await WriteAsync(store, id, "before");
        var oldPrimary = cluster.Nodes[0];
        var replica = cluster.Nodes[1];

        oldPrimary.Kill();
        var killed = Stopwatch.StartNew();
        var failures = new Dictionary<string, int>();
        SessionStoreResult? found = null;
        while (found is null)
        {
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(40), $"no answer from a new primary 40 s after the kill; failures {Describe(failures)}. {cluster.Logs()}");
            try
            {
                var result = await store.GetSharedAsync(id, default);

                // Never wrong data: until a primary answers the store fails, it never reports the session missing.
                Assert.Equal(SessionStoreStatus.Found, result.Status);
                found = result;
            }
            catch (SessionStoreUnavailableException ex)
            {
                var kind = ex.InnerException?.GetType().Name ?? "timeout";
                failures[kind] = failures.GetValueOrDefault(kind) + 1;
                await Task.Delay(50);
            }
        }

        output.WriteLine($"first answer {killed.ElapsedMilliseconds} ms after the kill; before it: {Describe(failures)}");
        Assert.Equal("before", Encoding.UTF8.GetString(found.Value.Data!.Items["v"]));
        Assert.NotEmpty(failures);

        // Redis does not replicate its script cache; the store loads the scripts on the promoted replica when the client
        // switches to it. A call already queued when the client switches may get there first: it gets NOSCRIPT once and
        // is sent again with the script's text (one more round trip). Every call after it finds the scripts loaded.
        Assert.NotNull(await replica.InfoFieldAsync("commandstats", "cmdstat_script|load"));
        var noscriptAtSwitch = await NoScriptAnswersAsync(replica);
        Assert.True(noscriptAtSwitch <= 1, $"{noscriptAtSwitch} NOSCRIPT answers on the promoted replica; at most the one call in flight at the switch may get one");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(SessionStoreStatus.Found, (await store.GetSharedAsync(id, default)).Status);
        }

        Assert.Equal(noscriptAtSwitch, await NoScriptAnswersAsync(replica));
        await cluster.UntilAsync(async () => await cluster.AgreedPrimaryAsync() == replica, TimeSpan.FromSeconds(20), "the sentinels name the replica as primary");

        // Writes go to the new primary (which has no replica now: durable writes need one, so this store waits for none).
        await using var plain = NewStore(cluster.Configuration, minReplicas: 0);
        await WriteAsync(plain, id, "after");
        Assert.Equal("after", (string?)await replica.CommandAsync("HGET", $"{{{_prefix}:{id}}}:session", "i:v"));
    }

    [Fact]
    public async Task A_lock_lost_in_a_promotion_lets_a_new_holder_in_with_a_higher_token_and_the_old_holder_cannot_write()
    {
        await using var cluster = await SentinelCluster.StartAsync();
        var (oldPrimary, replica) = (cluster.Nodes[0], cluster.Nodes[1]);
        await using var onOld = NewStore(oldPrimary.EndPoint, minReplicas: 0);
        var id = SessionIds.Create();
        await WriteAsync(onOld, id, "replicated");
        await oldPrimary.UntilReplicatedToAsync(replica);

        // The replica stops receiving (it is detached: what the primary does from now on never reaches it), the old
        // primary hands out a lock, then dies; the replica is promoted without that lock, as after asynchronous replication.
        await replica.CommandAsync("REPLICAOF", "NO", "ONE");
        var old = await onOld.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.Equal(SessionStoreStatus.Found, old.Status);
        oldPrimary.Kill();

        await using var onNew = NewStore(replica.EndPoint, minReplicas: 0);
        var fenceBefore = long.Parse((string)(await replica.CommandAsync("HGET", $"{{{_prefix}:{id}}}:session", "fence"))!);
        Assert.True(fenceBefore < old.LockId.Token, "the promoted replica does not know the lost lock's token");
        Assert.Equal(0, (long)await replica.CommandAsync("EXISTS", $"{{{_prefix}:{id}}}:lock"));

        // The old holder, on the new primary, with no lock there: rejected, nothing written.
        Assert.False(await onNew.WriteAndReleaseAsync(id, old.LockId, Changes("stale-1"), default));

        // A new holder gets in (the lock was lost): its token is above the lost one (the server-time floor), not just above the fence.
        var next = await onNew.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.Equal(SessionStoreStatus.Found, next.Status);
        output.WriteLine($"lost token {old.LockId.Token}, fence on the promoted replica {fenceBefore}, new token {next.LockId.Token}");
        Assert.True(next.LockId.Token > old.LockId.Token, $"new token {next.LockId.Token} is not above the lost one {old.LockId.Token}");

        // The old holder again, now that another request holds the lock: rejected, the holder's lock untouched.
        Assert.False(await onNew.WriteAndReleaseAsync(id, old.LockId, Changes("stale-2"), default));
        Assert.False(await onNew.RemoveAsync(id, old.LockId, default));
        Assert.True(await onNew.WriteAndReleaseAsync(id, next.LockId, Changes("new holder"), default));
        var final = await onNew.GetSharedAsync(id, default);
        Assert.Equal("new holder", Encoding.UTF8.GetString(final.Data!.Items["v"]));
        Assert.Equal(SessionStoreStatus.Found, (await onNew.GetExclusiveAsync(id, LockTimeout, false, default)).Status);
    }

    [Fact]
    public async Task With_durable_writes_a_write_that_no_replica_acknowledges_fails_is_counted_and_an_acquire_keeps_no_lock()
    {
        await using var cluster = await SentinelCluster.StartAsync();
        var (primary, replica) = (cluster.Nodes[0], cluster.Nodes[1]);
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var failed = new List<(long Value, string Operation)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == RedisSessionStateStore.ReplicaAckFailedCounter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (failed)
            {
                failed.Add((value, (string)tags.ToArray().Single(t => t.Key == "operation").Value!));
            }
        });
        listener.Start();
        await using var store = new RedisSessionStateStore(
            new RedisSessionStoreOptions { Configuration = cluster.Configuration, KeyPrefix = _prefix, MinReplicasAcknowledged = 1, ReplicaAckTimeout = TimeSpan.FromMilliseconds(300), OperationTimeout = TimeSpan.FromSeconds(3) },
            meterFactory: meters.GetRequiredService<IMeterFactory>());
        var id = SessionIds.Create();
        await WriteAsync(store, id, "acknowledged");
        var held = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        replica.Freeze();
        try
        {
            // The write-back: applied on the primary, not acknowledged by the replica in 300 ms, reported as failed.
            var clock = Stopwatch.StartNew();
            var writeBack = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.WriteAndReleaseAsync(id, held.LockId, Changes("unacknowledged"), default));
            output.WriteLine($"{clock.ElapsedMilliseconds} ms: {writeBack.Message}");
            Assert.Equal("write-back", writeBack.Operation);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
            Assert.Equal("unacknowledged", (string?)await primary.CommandAsync("HGET", $"{{{_prefix}:{id}}}:session", "i:v")); // unknown outcome: it did apply

            // An acquire that takes a lock no replica has: fails, and the lock is released at once.
            var acquire = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, false, default));
            Assert.Equal("acquire", acquire.Operation);
            Assert.Equal(0, (long)await primary.CommandAsync("EXISTS", $"{{{_prefix}:{id}}}:lock"));

            // A read-only load writes nothing that needs a replica: it works.
            Assert.Equal(SessionStoreStatus.Found, (await store.GetSharedAsync(id, default)).Status);
        }
        finally
        {
            replica.Resume();
        }

        await WriteAsync(store, id, "acknowledged again");
        lock (failed)
        {
            Assert.Equal([(1L, "write-back"), (1L, "acquire")], failed);
        }
    }

    private RedisSessionStateStore NewStore(string configuration, int minReplicas) =>
        new(new RedisSessionStoreOptions
        {
            Configuration = configuration,
            KeyPrefix = _prefix,
            MinReplicasAcknowledged = minReplicas,
            OperationTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        });

    private static SessionChanges Changes(string value) =>
        new(new Dictionary<string, byte[]> { ["v"] = Encoding.UTF8.GetBytes(value) }, [], TimeSpan.FromMinutes(20), isNew: false);

    private static async Task WriteAsync(RedisSessionStateStore store, string id, string value)
    {
        var result = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        Assert.True(result.HasLock, $"no lock: {result.Status}");
        var changes = new SessionChanges(new Dictionary<string, byte[]> { ["v"] = Encoding.UTF8.GetBytes(value) }, [], TimeSpan.FromMinutes(20), isNew: result.Status == SessionStoreStatus.NotFound);
        Assert.True(await store.WriteAndReleaseAsync(id, result.LockId, changes, default));
    }

    /// <summary>How many NOSCRIPT error answers the server gave (INFO errorstats), 0 when none.</summary>
    private static async Task<long> NoScriptAnswersAsync(SentinelCluster.Node server) =>
        await server.InfoFieldAsync("errorstats", "errorstat_NOSCRIPT") is { } field
            ? long.Parse(field.Split('=')[1], System.Globalization.CultureInfo.InvariantCulture)
            : 0;

    private static string Describe(Dictionary<string, int> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.Select(c => $"{c.Value}× {c.Key}"));
}

/// <summary>Failover tests start and kill Redis and sentinel processes and time a failover: they run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FailoverCollection
{
    public const string Name = "Failover (serial)";
}
