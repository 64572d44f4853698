using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Behavior;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Legacy;

/// <summary>The whole behaviour suite on the store that shares RedisSessionStateProvider's sessions, in one format.</summary>
public abstract class LegacySessionBehaviorTests(RedisFixture redis, RedisSessionStateProviderFormat format, ITestOutputHelper output) : SessionBehaviorTests(output)
{
    private readonly string _application = $"behavior-{format}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        LegacyKeys.AddStore(builder, redis.Configuration, _application, format);

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        LegacyKeys.SessionIdsAsync(redis.Server, _application);

    /// <summary>The provider's lock value cannot carry an endpoint: a holder on another server is only "a legacy request".</summary>
    protected override string RemoteHolder(string route) => "a legacy request";
}

/// <summary>The behaviour suite on RedisSessionStateProvider 5's sessions (one binary collection per session).</summary>
public sealed class LegacyV5SessionBehaviorTests(RedisFixture redis, ITestOutputHelper output)
    : LegacySessionBehaviorTests(redis, RedisSessionStateProviderFormat.V5, output), IClassFixture<RedisFixture>;

/// <summary>The behaviour suite on RedisSessionStateProvider 4's sessions (a hash per session, partial writes).</summary>
public sealed class LegacyV4SessionBehaviorTests(RedisFixture redis, ITestOutputHelper output)
    : LegacySessionBehaviorTests(redis, RedisSessionStateProviderFormat.V4, output), IClassFixture<RedisFixture>;

internal static class LegacyKeys
{
    /// <summary>Registers the store on <paramref name="configuration"/> under its own application name, in <paramref name="format"/>.</summary>
    public static void AddStore(ILockedSessionBuilder builder, string configuration, string application, RedisSessionStateProviderFormat format) =>
        builder.AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = configuration;
            o.ApplicationName = application;
            o.Format = format;
        });

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
