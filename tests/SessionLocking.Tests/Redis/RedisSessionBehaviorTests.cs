using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Behavior;

namespace SessionLocking.Tests.Redis;

/// <summary>The whole behaviour suite on the Redis store (one suite, two stores), on a redis-server of its own.</summary>
public sealed class RedisSessionBehaviorTests : SessionBehaviorTests, IClassFixture<RedisFixture>
{
    private static readonly string Prefix = "behavior-" + Guid.NewGuid().ToString("N")[..8];
    private readonly RedisFixture _redis;

    public RedisSessionBehaviorTests(RedisFixture redis) => _redis = redis;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = _redis.Configuration;
            options.KeyPrefix = Prefix;
        });
}

/// <summary>The whole behaviour suite on a local three-master Redis Cluster.</summary>
public sealed class RedisClusterSessionBehaviorTests : SessionBehaviorTests, IClassFixture<RedisClusterFixture>
{
    private static readonly string Prefix = "cluster-" + Guid.NewGuid().ToString("N")[..8];
    private readonly RedisClusterFixture _cluster;

    public RedisClusterSessionBehaviorTests(RedisClusterFixture cluster) => _cluster = cluster;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = _cluster.Configuration;
            options.KeyPrefix = Prefix;
        });
}
