using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Behavior;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>The whole behaviour suite on the store that shares RedisSessionStateProvider 5's sessions.</summary>
public sealed class LegacyV5SessionBehaviorTests(RedisFixture redis) : SessionBehaviorTests, IClassFixture<RedisFixture>
{
    private readonly string _application = "behavior5-" + Guid.NewGuid().ToString("N")[..8];

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = _application;
            o.Format = RedisSessionStateProviderFormat.V5;
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        LegacyKeys.SessionIdsAsync(redis.Server, _application);
}

/// <summary>The whole behaviour suite on the store that shares RedisSessionStateProvider 4's sessions.</summary>
public sealed class LegacyV4SessionBehaviorTests(RedisFixture redis) : SessionBehaviorTests, IClassFixture<RedisFixture>
{
    private readonly string _application = "behavior4-" + Guid.NewGuid().ToString("N")[..8];

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = _application;
            o.Format = RedisSessionStateProviderFormat.V4;
        });

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        LegacyKeys.SessionIdsAsync(redis.Server, _application);
}

internal static class LegacyKeys
{
    /// <summary>The session ids of every key <c>{application_id}_...</c> on the server.</summary>
    public static async Task<IReadOnlyCollection<string>> SessionIdsAsync(RedisServer server, string application)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var start = "{" + application + "_";
        using var client = await server.ConnectAsync();
        foreach (var key in await client.KeysAsync(start + "*"))
        {
            var end = key.IndexOf('}', start.Length);
            ids.Add(end < 0 ? key : key[start.Length..end]);
        }

        return ids;
    }
}
