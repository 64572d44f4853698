using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Behavior;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The whole behaviour suite on the Redis store over one deployment (one suite, every store): each test under a key
/// prefix of its own, since the tests of a class share its servers.
/// </summary>
public abstract partial class RedisStoreBehaviorTests<TDeployment>(TDeployment deployment, string prefixStem, ITestOutputHelper output)
    : SessionBehaviorTests(output), IClassFixture<TDeployment>
    where TDeployment : class, IRedisDeployment
{
    /// <summary>The key prefix of this test.</summary>
    protected string Prefix { get; } = prefixStem + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The servers the store runs on.</summary>
    protected TDeployment Deployment => deployment;

    /// <summary>The store's operation timeout when a test needs more than the default (under heavy load).</summary>
    private TimeSpan? _operationTimeout;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(options =>
        {
            options.Configuration = deployment.Configuration;
            options.KeyPrefix = Prefix;
            if (_operationTimeout is { } timeout)
            {
                options.OperationTimeout = timeout;
            }
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        RedisKeysOf.SessionIdsAsync(deployment.Servers, Prefix);
}

/// <summary>The whole behaviour suite on the Redis store, on a redis-server of its own.</summary>
public sealed class RedisSessionBehaviorTests(RedisFixture redis, ITestOutputHelper output)
    : RedisStoreBehaviorTests<RedisFixture>(redis, "behavior", output)
{
    [Fact]
    public Task A_corrupted_session_timeout_in_redis_fails_with_503_once_leaves_no_lock_and_the_next_request_starts_afresh() =>
        CorruptedSessionTimeoutFailsOnceAndTheNextRequestStartsAfreshAsync();
}

/// <summary>The whole behaviour suite on a local three-master Redis Cluster.</summary>
public sealed class RedisClusterSessionBehaviorTests(RedisClusterFixture cluster, ITestOutputHelper output)
    : RedisStoreBehaviorTests<RedisClusterFixture>(cluster, "cluster", output)
{
    [Fact]
    public Task A_corrupted_session_timeout_in_redis_fails_with_503_once_leaves_no_lock_and_the_next_request_starts_afresh() =>
        CorruptedSessionTimeoutFailsOnceAndTheNextRequestStartsAfreshAsync();
}

/// <summary>
/// The whole behaviour suite on the Redis store over Microsoft Garnet (a RESP server: Lua scripts run as transactions),
/// on a server of its own. docs/redis-protocol.md says what Garnet supports.
/// </summary>
public sealed class GarnetSessionBehaviorTests(GarnetFixture garnet, ITestOutputHelper output)
    : RedisStoreBehaviorTests<GarnetFixture>(garnet, "garnet", output)
{
    /// <summary>Garnet has no MONITOR: the forged-cookie run checks the keys it leaves, not every command.</summary>
    protected override bool CanMonitor => false;

    /// <summary>Garnet puts "ERR " before a script's error answer; the store still reads it as the corrupt-record error.</summary>
    [Fact]
    public Task A_corrupted_session_timeout_in_garnet_fails_with_503_once_leaves_no_lock_and_the_next_request_starts_afresh() =>
        CorruptedSessionTimeoutFailsOnceAndTheNextRequestStartsAfreshAsync();
}
