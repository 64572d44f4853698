using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Contract;
using SessionLocking.Tests.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// The store contract on the store that shares RedisSessionStateProvider 5's keys (one binary collection per session).
/// Every rule holds; by design, lock ids are the classic lock values (local-time ticks made unique per acquisition), so
/// they grow only per process, not across servers, and lock age is measured with the web server's clock in
/// <c>LockTimeZone</c>, not the store's.
/// </summary>
public sealed class LegacyV5StoreContractTests(RedisFixture redis) : StoreContractTests, IClassFixture<RedisFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        LegacyKeys.AddStore(builder, redis.Configuration, "contract5-" + Guid.NewGuid().ToString("N")[..8], RedisSessionStateProviderFormat.V5);

    /// <summary>The provider's lock value cannot carry an endpoint.</summary>
    protected override string? ExpectedHolder(string? endpoint) => "a legacy request";
}

/// <summary>The store contract on the store that shares RedisSessionStateProvider 4's keys (a hash per session, partial writes).</summary>
public sealed class LegacyV4StoreContractTests(RedisFixture redis) : StoreContractTests, IClassFixture<RedisFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        LegacyKeys.AddStore(builder, redis.Configuration, "contract4-" + Guid.NewGuid().ToString("N")[..8], RedisSessionStateProviderFormat.V4);

    /// <summary>The provider's lock value cannot carry an endpoint.</summary>
    protected override string? ExpectedHolder(string? endpoint) => "a legacy request";
}

/// <summary>The store contract on the RedisSessionStateProvider 5 store over a local three-master Redis Cluster (all keys of a session share the tag <c>{app_id}</c>).</summary>
public sealed class LegacyV5ClusterStoreContractTests(RedisClusterFixture cluster) : StoreContractTests, IClassFixture<RedisClusterFixture>
{
    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        LegacyKeys.AddStore(builder, cluster.Configuration, "cluster5-" + Guid.NewGuid().ToString("N")[..8], RedisSessionStateProviderFormat.V5);

    /// <summary>The provider's lock value cannot carry an endpoint.</summary>
    protected override string? ExpectedHolder(string? endpoint) => "a legacy request";
}
