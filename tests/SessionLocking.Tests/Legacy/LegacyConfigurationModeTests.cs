using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Redis.Legacy;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary><c>SessionState:Mode=RedisSessionStateProvider</c>: configuration chooses the legacy store (AddRedisSessionStateProviderStoreMode).</summary>
public sealed class LegacyConfigurationModeTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _application = "mode-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task The_mode_keeps_sessions_in_the_provider_keys_and_format_with_the_options_from_its_section()
    {
        await using var app = await StartAppAsync(new()
        {
            ["SessionState:Mode"] = "RedisSessionStateProvider",
            ["SessionState:RedisSessionStateProvider:Configuration"] = redis.Configuration,
            ["SessionState:RedisSessionStateProvider:ApplicationName"] = _application,
            ["SessionState:RedisSessionStateProvider:Format"] = "V4",
            ["SessionState:RedisSessionStateProvider:DefaultSessionTimeout"] = "00:07:00",
            ["SessionState:RedisSessionStateProvider:LockTimeZone"] = "Asia/Kolkata",
        });

        var store = Assert.IsType<LegacyRedisSessionStateStore>(app.Services.GetRequiredService<ISessionStateStore>());
        Assert.IsType<RedisSessionStateProviderItemFormat>(app.Services.GetRequiredService<ISessionItemFormat>());
        var options = app.Services.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value;
        Assert.Equal((RedisSessionStateProviderFormat.V4, TimeSpan.FromMinutes(7)), (options.Format, options.DefaultSessionTimeout));
        Assert.Equal(TimeSpan.FromHours(5.5), options.LockTimeZone.BaseUtcOffset);

        var id = SessionIds.Create();
        var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["a"] = [21] }, [], TimeSpan.FromMinutes(1), true), default));
        await using var client = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        Assert.True(await client.GetDatabase().KeyExistsAsync("{" + _application + "_" + id + "}_Data")); // the V4 layout
    }

    [Fact]
    public async Task With_another_mode_the_registration_changes_neither_the_store_nor_the_item_format()
    {
        await using var app = await StartAppAsync(new() { ["SessionState:Mode"] = "InProc" });

        Assert.IsNotType<LegacyRedisSessionStateStore>(app.Services.GetRequiredService<ISessionStateStore>());
        Assert.IsNotType<RedisSessionStateProviderItemFormat>(app.Services.GetRequiredService<ISessionItemFormat>());
    }

    [Fact]
    public async Task Without_an_application_name_the_mode_fails_at_start_up_saying_what_to_set()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(new()
        {
            ["SessionState:Mode"] = "RedisSessionStateProvider",
            ["SessionState:RedisSessionStateProvider:Configuration"] = redis.Configuration,
        }));

        Assert.Contains("ApplicationName is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lock_time_zone_this_machine_does_not_know_fails_at_start_up_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => StartAppAsync(new()
        {
            ["SessionState:Mode"] = "RedisSessionStateProvider",
            ["SessionState:RedisSessionStateProvider:Configuration"] = redis.Configuration,
            ["SessionState:RedisSessionStateProvider:ApplicationName"] = _application,
            ["SessionState:RedisSessionStateProvider:LockTimeZone"] = "Mars/Olympus_Mons",
        }));

        Assert.Contains("SessionState:RedisSessionStateProvider:LockTimeZone", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_store_registered_in_code_satisfies_a_configuration_that_names_the_mode()
    {
        await using var app = await StartAppAsync(
            new() { ["SessionState:Mode"] = "RedisSessionStateProvider" },
            b => b.AddRedisSessionStateProviderStore(o =>
            {
                o.Configuration = redis.Configuration;
                o.ApplicationName = _application;
            }));

        Assert.IsType<LegacyRedisSessionStateStore>(app.Services.GetRequiredService<ISessionStateStore>());
    }

    private static Task<WebApplication> StartAppAsync(Dictionary<string, string?> configuration, Action<ILockedSessionBuilder>? store = null) =>
        ConfiguredApp.StartAsync(configuration, store ?? (b => b.AddRedisSessionStateProviderStoreMode()));
}
