using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>The cached-loads option: 64 MiB by default, bound from configuration, 0 turns it off, negative fails start-up.</summary>
public sealed class SessionCacheOptionsTests
{
    [Fact]
    public void Cached_loads_are_on_by_default_and_bind_from_SessionState_Redis()
    {
        Assert.Equal(64L * 1024 * 1024, new RedisSessionStoreOptions().SessionCacheSize);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SessionState:Mode"] = "Redis",
            ["SessionState:Redis:Configuration"] = "127.0.0.1:6379",
            ["SessionState:Redis:SessionCacheSize"] = "0",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddLockedSession().AddRedisStoreMode();
        using var provider = services.BuildServiceProvider();

        Assert.Equal(0, provider.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value.SessionCacheSize);
        using var off = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = "127.0.0.1:6379", SessionCacheSize = 0 });
        using var on = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = "127.0.0.1:6379" });
        Assert.Null(off.Cache);
        Assert.Equal(64L * 1024 * 1024, on.Cache!.Limit);
    }

    [Fact]
    public void A_negative_size_fails_validation_saying_what_to_set()
    {
        var validator = new RedisOptionsValidator([new RedisStoreRegistration(false)]);

        var result = validator.Validate(null, new RedisSessionStoreOptions { Configuration = "127.0.0.1:6379", SessionCacheSize = -1 });

        Assert.True(result.Failed);
        Assert.Contains("SessionCacheSize must be 0 (off) or more bytes", result.FailureMessage, StringComparison.Ordinal);
    }
}
