using System.Reflection;
using Microsoft.Extensions.Logging;
using SessionLocking.Redis;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The pub/sub decision's log (events 110 and 111) names the StackExchange.Redis package version the application runs
/// on (2.7.27, 2.13.23, 3.4.35), not the assembly version every 2.x client carries (2.0.0.0).
/// </summary>
public sealed class ReleaseChannelLogTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    /// <summary>The StackExchange.Redis package version this build of the tests references (SessionLocking.Tests.csproj).</summary>
    private static readonly string PackageVersion = typeof(ReleaseChannelLogTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "StackExchangeRedisVersion").Value!;

    [Fact]
    public async Task The_release_channel_log_names_the_client_package_version()
    {
        var events = new TestLog.CollectingProvider();
        using (var loggerFactory = LoggerFactory.Create(b => b.AddProvider(events).SetMinimumLevel(LogLevel.Debug)))
        await using (var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = "ver-" + Guid.NewGuid().ToString("N")[..8] }, loggerFactory))
        {
            await store.UsesShardedChannelsAsync(default);
            await FaultKit.Until(() => events.Events.Any(IsDecision), TimeSpan.FromSeconds(10), "the release-channel decision");
        }

        var decision = events.Events.Single(IsDecision);
        Assert.Contains($"StackExchange.Redis {PackageVersion}", decision.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".0.0.0", decision.Message, StringComparison.Ordinal);

        static bool IsDecision((string Category, EventId Id, LogLevel Level, string Message) e) =>
            e.Id.Name is "RedisReleaseChannelsSharded" or "RedisReleaseChannelsClassic";
    }
}
