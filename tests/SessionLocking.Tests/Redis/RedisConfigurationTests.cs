using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Redis;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;
using StackExchange.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>Choosing the store by configuration or code, start-up validation, and Redis failures as clear errors.</summary>
public sealed class RedisConfigurationTests : IClassFixture<RedisFixture>
{
    private readonly RedisFixture _redis;

    public RedisConfigurationTests(RedisFixture redis) => _redis = redis;

    [Fact]
    public async Task Without_configuration_sessions_stay_in_memory()
    {
        await using var app = await StartAppAsync(new());

        Assert.IsType<InMemorySessionStateStore>(app.Services.GetRequiredService<ISessionStateStore>());
    }

    [Fact]
    public async Task SessionState_Mode_Redis_switches_an_application_that_only_calls_AddLockedSession()
    {
        var prefix = "config-" + Guid.NewGuid().ToString("N")[..8];
        await using var app = await StartAppAsync(new()
        {
            ["SessionState:Mode"] = "redis",
            ["SessionState:Redis:Configuration"] = _redis.Configuration,
            ["SessionState:Redis:KeyPrefix"] = prefix,
            ["SessionState:Redis:OperationTimeout"] = "00:00:02",
        }, RedisMode);

        var store = app.Services.GetRequiredService<ISessionStateStore>();
        Assert.IsType<RedisSessionStateStore>(store);
        Assert.Equal(SessionStateMode.Custom, store.Mode);
        Assert.Equal(TimeSpan.FromSeconds(2), app.Services.GetRequiredService<IOptions<SessionLocking.Redis.RedisSessionStoreOptions>>().Value.OperationTimeout);
        var id = SessionIds.Create();
        var created = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(5), true, default);
        Assert.True(await store.ReleaseAsync(id, created.LockId, default));
        using var inspect = await _redis.Server.ConnectAsync();
        Assert.Empty(await inspect.KeysAsync($"{{{prefix}:*")); // A new session that stored nothing leaves no key.
    }

    [Fact]
    public async Task Mode_Redis_without_a_connection_fails_at_start_up_saying_how_to_fix_it()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(new() { ["SessionState:Mode"] = "Redis" }, RedisMode));

        Assert.Contains("SessionState:Redis:Configuration", error.Message, StringComparison.Ordinal);
        Assert.Contains("SessionState__Redis__Configuration=127.0.0.1:6379", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mode_Redis_without_the_Redis_package_s_mode_fails_at_start_up_naming_the_call()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(new()
        {
            ["SessionState:Mode"] = "Redis",
            ["SessionState:Redis:Configuration"] = _redis.Configuration,
        }));

        Assert.Contains("SessionLocking.Redis", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddRedisStoreMode()", error.Message, StringComparison.Ordinal);
        Assert.Contains("InProc", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_prefix_that_breaks_the_hash_tag_fails_at_start_up()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(new()
        {
            ["SessionState:Mode"] = "Redis",
            ["SessionState:Redis:Configuration"] = _redis.Configuration,
            ["SessionState:Redis:KeyPrefix"] = "app}",
        }, RedisMode));

        Assert.Contains("KeyPrefix", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisStore_in_code_wins_over_the_configured_mode()
    {
        await using var app = await StartAppAsync(new() { ["SessionState:Mode"] = "InProc" }, builder => builder.AddRedisStore(_redis.Configuration));

        Assert.IsType<RedisSessionStateStore>(app.Services.GetRequiredService<ISessionStateStore>());
    }

    [Fact]
    public async Task AddRedisStore_without_arguments_uses_the_applications_multiplexer_and_leaves_it_open()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        try
        {
            var prefix = "di-" + Guid.NewGuid().ToString("N")[..8];
            await using (var app = await StartAppAsync(
                             new() { ["SessionState:Redis:KeyPrefix"] = prefix },
                             builder => builder.AddRedisStore(),
                             services => services.AddSingleton<IConnectionMultiplexer>(multiplexer)))
            {
                var store = app.Services.GetRequiredService<ISessionStateStore>();
                Assert.IsType<RedisSessionStateStore>(store);
                var id = SessionIds.Create();
                var created = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(5), true, default);
                Assert.True(created.HasLock);
                Assert.True(await store.ReleaseAsync(id, created.LockId, default));
            }

            Assert.True(multiplexer.IsConnected); // The application's multiplexer is the application's to dispose.
            Assert.Equal("PONG", (string?)(await multiplexer.GetDatabase().ExecuteAsync("PING")));
        }
        finally
        {
            multiplexer.Dispose();
        }
    }

    [Fact]
    public async Task AddRedisStore_without_arguments_and_no_multiplexer_needs_a_configuration()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(new(), builder => builder.AddRedisStore()));

        Assert.Contains("SessionState:Redis:Configuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_redis_down_requests_fail_with_503_never_with_an_empty_session_and_recover_when_it_is_back()
    {
        await using var server = await RedisServer.StartAsync();
        await using var host = await TestHost.StartAsync(configureStore: store => store.AddRedisStore(o =>
        {
            o.Configuration = server.Configuration;
            o.KeyPrefix = "down";
            o.OperationTimeout = TimeSpan.FromSeconds(1);
            o.ConnectTimeout = TimeSpan.FromSeconds(1);
        }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=kept")).Dispose();
        Assert.Equal("kept", await client.GetJsonAsync<string>("/get?key=a"));

        server.Kill();

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/get?key=a"), (HttpMethod.Get, "/get-required?key=a"), (HttpMethod.Post, "/set?key=a&value=lost") })
        {
            using var response = await client.SendAsync(method, path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("The session store is unavailable.", await response.Content.ReadAsStringAsync());
        }

        using (var fresh = host.CreateClient())
        {
            using var response = await fresh.PostAsync("/set?key=a&value=new");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Null(fresh.SessionId);
        }

        Assert.Equal("ok", await client.GetJsonAsync<string>("/disabled")); // A request without session state still works.
        Assert.Contains(TestLog.Events, e => e.Id.Name == "StoreFailed" && e.Level == LogLevel.Error);

        await server.RestartAsync(); // Empty: no persistence.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        HttpStatusCode status;
        using var after = host.CreateClient();
        while ((status = (await after.PostAsync("/set?key=a&value=back")).StatusCode) != HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.True(DateTime.UtcNow < deadline, "the store did not recover after Redis came back");
            await Task.Delay(200);
        }

        Assert.Equal("back", await after.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task A_redis_that_is_not_there_at_start_fails_requests_quickly_with_503()
    {
        var port = 0;
        await using (var gone = await RedisServer.StartAsync())
        {
            port = gone.Port;
        }

        await using var host = await TestHost.StartAsync(configureStore: store => store.AddRedisStore(o =>
        {
            o.Configuration = $"127.0.0.1:{port}";
            o.OperationTimeout = TimeSpan.FromSeconds(1);
            o.ConnectTimeout = TimeSpan.FromSeconds(1);
        }));
        using var client = host.CreateClient();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        using var first = await client.PostAsync("/set?key=a&value=1");
        using var second = await client.GetAsync("/info");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the requests took {clock.Elapsed}");
    }

    [Fact]
    public async Task Store_errors_name_the_operation_and_the_limit()
    {
        var store = new RedisSessionStateStore(new RedisSessionStoreOptions
        {
            Configuration = "127.0.0.1:1",
            OperationTimeout = TimeSpan.FromMilliseconds(500),
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
        });
        await using (store)
        {
            var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetSharedAsync(SessionIds.Create(), default));
            Assert.Equal("read-only load", error.Operation);
            Assert.Contains("read-only load", error.Message, StringComparison.Ordinal);
            Assert.Contains("0.5 s", error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>What an application that lets configuration choose Redis calls.</summary>
    private static void RedisMode(ILockedSessionBuilder builder) => builder.AddRedisStoreMode();

    private static Task<WebApplication> StartAppAsync(
        Dictionary<string, string?> configuration,
        Action<ILockedSessionBuilder>? store = null,
        Action<IServiceCollection>? services = null) =>
        ConfiguredApp.StartAsync(configuration, store, services);
}
