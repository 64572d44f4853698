using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Behavior;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>The whole behaviour suite on the Redis store (one suite, two stores), on a redis-server of its own.</summary>
public sealed class RedisSessionBehaviorTests : SessionBehaviorTests, IClassFixture<RedisFixture>
{
    private readonly string _prefix = "behavior-" + Guid.NewGuid().ToString("N")[..8]; // per test: tests of the class share the server
    private readonly RedisFixture _redis;

    public RedisSessionBehaviorTests(RedisFixture redis) => _redis = redis;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = _redis.Configuration;
            options.KeyPrefix = _prefix;
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        RedisKeysOf.SessionIdsAsync([_redis.Server], _prefix);
}

/// <summary>The whole behaviour suite on a local three-master Redis Cluster.</summary>
public sealed class RedisClusterSessionBehaviorTests : SessionBehaviorTests, IClassFixture<RedisClusterFixture>
{
    private readonly string _prefix = "cluster-" + Guid.NewGuid().ToString("N")[..8];
    private readonly RedisClusterFixture _cluster;

    public RedisClusterSessionBehaviorTests(RedisClusterFixture cluster) => _cluster = cluster;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = _cluster.Configuration;
            options.KeyPrefix = _prefix;
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        RedisKeysOf.SessionIdsAsync(_cluster.Nodes, _prefix);
}

/// <summary>
/// The whole behaviour suite on the Redis store over Microsoft Garnet (a RESP server: Lua scripts run as transactions),
/// on a server of its own. docs/redis-protocol.md says what Garnet supports.
/// </summary>
public sealed class GarnetSessionBehaviorTests : SessionBehaviorTests, IClassFixture<GarnetFixture>
{
    private readonly string _prefix = "garnet-" + Guid.NewGuid().ToString("N")[..8];
    private readonly GarnetFixture _garnet;

    public GarnetSessionBehaviorTests(GarnetFixture garnet) => _garnet = garnet;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = _garnet.Configuration;
            options.KeyPrefix = _prefix;
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        RedisKeysOf.SessionIdsAsync([_garnet.Server], _prefix);
}

internal static class RedisKeysOf
{
    /// <summary>The session ids of every key under <c>{prefix:</c> on the given servers (all nodes of a cluster).</summary>
    public static async Task<IReadOnlyCollection<string>> SessionIdsAsync(IEnumerable<RedisServer> servers, string prefix)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var start = "{" + prefix + ":";
        foreach (var server in servers)
        {
            using var client = await server.ConnectAsync();
            foreach (var key in await client.KeysAsync(start + "*"))
            {
                var end = key.IndexOf('}', start.Length);
                ids.Add(end < 0 ? key : key[start.Length..end]);
            }
        }

        return ids;
    }
}
