using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Redis;

namespace SessionLocking.Tests.Contract;

/// <summary>The contract on the in-memory store (the default of <c>AddLockedSession</c>).</summary>
public sealed class InMemoryStoreContractTests : StoreContractTests
{
    protected override void ConfigureStore(ILockedSessionBuilder builder)
    {
    }
}

/// <summary>The contract on the Redis store, on a redis-server of its own.</summary>
public sealed class RedisStoreContractTests(RedisFixture redis) : StoreContractTests, IClassFixture<RedisFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.KeyPrefix = "contract-" + Guid.NewGuid().ToString("N")[..8];
        });
}

/// <summary>The contract on the Redis store over a local three-master Redis Cluster.</summary>
public sealed class RedisClusterStoreContractTests(RedisClusterFixture cluster) : StoreContractTests, IClassFixture<RedisClusterFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(o =>
        {
            o.Configuration = cluster.Configuration;
            o.KeyPrefix = "contract-" + Guid.NewGuid().ToString("N")[..8];
        });
}

/// <summary>The contract on the Redis store over Microsoft Garnet (Lua scripts run as transactions), on a server of its own.</summary>
public sealed class GarnetStoreContractTests(GarnetFixture garnet) : StoreContractTests, IClassFixture<GarnetFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(o =>
        {
            o.Configuration = garnet.Configuration;
            o.KeyPrefix = "contract-" + Guid.NewGuid().ToString("N")[..8];
        });
}
