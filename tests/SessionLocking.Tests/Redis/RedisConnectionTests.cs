using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Redis;
using SessionLocking.Stores;
using StackExchange.Redis;

// SocketManager and RedisConnectionException(ConnectionFailureType, string) are obsolete in StackExchange.Redis 3.x;
// these tests also build against it (scripts/test.sh), and the package is built on the 2.x floor that has them.
#pragma warning disable CS0618

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The ways the store connects (a configuration string, ConfigurationOptions, a factory, the application's multiplexer
/// from DI), who disposes what, the channel prefix, and the scripts loaded before the first call and after a restart.
/// </summary>
public sealed class RedisConnectionTests : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly RedisFixture _redis;

    public RedisConnectionTests(RedisFixture redis) => _redis = redis;

    [Fact]
    public async Task AddRedisStore_with_ConfigurationOptions_connects_with_a_copy_and_disposes_the_multiplexer_it_made()
    {
        var name = "sl-options-" + Guid.NewGuid().ToString("N")[..8];
        var configuration = new ConfigurationOptions { EndPoints = { { "127.0.0.1", _redis.Server.Port } }, ClientName = name, AbortOnConnectFail = true };
        var asyncTimeout = configuration.AsyncTimeout;
        await using (var app = await StartAppAsync(builder => builder.AddRedisStore(configuration)))
        {
            var store = app.Services.GetRequiredService<ISessionStateStore>();
            await CreateAndReleaseAsync(store);
            Assert.True(await ClientsNamedAsync(name) > 0);
        }

        Assert.True(configuration.AbortOnConnectFail); // The application's object is left as it was.
        Assert.Equal(asyncTimeout, configuration.AsyncTimeout);
        await WaitForAsync(async () => await ClientsNamedAsync(name) == 0, "the store's own multiplexer was not closed when the application stopped");
    }

    [Fact]
    public async Task The_store_gives_its_timeouts_to_the_client_unless_the_configuration_sets_them()
    {
        var defaults = new RedisConnectionProbe(new RedisSessionStoreOptions
        {
            Configuration = _redis.Configuration,
            OperationTimeout = TimeSpan.FromMilliseconds(1500),
            ConnectTimeout = TimeSpan.FromMilliseconds(2500),
        });
        var given = new RedisConnectionProbe(new RedisSessionStoreOptions
        {
            Configuration = _redis.Configuration + ",asyncTimeout=700,connectTimeout=800",
            OperationTimeout = TimeSpan.FromMilliseconds(1500),
            ConnectTimeout = TimeSpan.FromMilliseconds(2500),
        });

        Assert.Equal((1500, 2500, false), await defaults.ClientSettingsAsync());
        Assert.Equal((700, 800, false), await given.ClientSettingsAsync());
    }

    [Fact]
    public async Task A_connection_the_store_makes_reads_replies_on_the_thread_pool_unless_the_application_chose_a_socket_manager()
    {
        var fromString = RedisConnection.ClientConfiguration(new RedisSessionStoreOptions { Configuration = _redis.Configuration });
        Assert.Same(SocketManager.ThreadPool, fromString.SocketManager);

        var fromOptions = RedisConnection.ClientConfiguration(new RedisSessionStoreOptions
        {
            ConfigurationOptions = new ConfigurationOptions { EndPoints = { { "127.0.0.1", _redis.Server.Port } } },
        });
        Assert.Same(SocketManager.ThreadPool, fromOptions.SocketManager);

        using var own = new SocketManager("sl-test");
        var given = new ConfigurationOptions { EndPoints = { { "127.0.0.1", _redis.Server.Port } }, SocketManager = own };
        var chosen = RedisConnection.ClientConfiguration(new RedisSessionStoreOptions { ConfigurationOptions = given });
        Assert.Same(own, chosen.SocketManager);

        // And the store works on it: a real round trip through a connection made with those options.
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = _redis.Configuration });
        await CreateAndReleaseAsync(store);
    }

    [Fact]
    public async Task A_connection_factory_is_called_once_and_its_multiplexer_is_never_disposed_by_the_store()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        try
        {
            var calls = 0;
            await using (var app = await StartAppAsync(builder => builder.AddRedisStore(options =>
                         {
                             options.ConnectionMultiplexerFactory = () =>
                             {
                                 Interlocked.Increment(ref calls);
                                 return Task.FromResult<IConnectionMultiplexer>(multiplexer);
                             };
                         })))
            {
                var store = app.Services.GetRequiredService<ISessionStateStore>();
                Assert.Equal(0, calls); // On first use, not at start.
                await CreateAndReleaseAsync(store);
                await CreateAndReleaseAsync(store);
                Assert.Equal(1, calls);
            }

            Assert.True(multiplexer.IsConnected);
            Assert.Equal("PONG", (string?)await multiplexer.GetDatabase().ExecuteAsync("PING"));
        }
        finally
        {
            await multiplexer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_factory_that_fails_makes_calls_fail_as_unavailable_and_is_tried_again()
    {
        var calls = 0;
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        try
        {
            await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions
            {
                ConnectionMultiplexerFactory = () => Interlocked.Increment(ref calls) == 1
                    ? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not yet")
                    : Task.FromResult<IConnectionMultiplexer>(multiplexer),
            });

            var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetSharedAsync(SessionIds.Create(), default));
            Assert.Contains("not yet", error.Message, StringComparison.Ordinal);
            await CreateAndReleaseAsync(store);
            Assert.Equal(2, calls);
        }
        finally
        {
            await multiplexer.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_applications_multiplexer_from_DI_is_used_and_never_disposed_even_when_the_store_is()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        try
        {
            await using (var app = await StartAppAsync(builder => builder.AddRedisStore(), services => services.AddSingleton<IConnectionMultiplexer>(multiplexer)))
            {
                var store = app.Services.GetRequiredService<ISessionStateStore>();
                await CreateAndReleaseAsync(store);
                await ((IAsyncDisposable)store).DisposeAsync(); // Even disposing the store leaves the application's multiplexer alone.
            }

            Assert.True(multiplexer.IsConnected);
            Assert.Equal("PONG", (string?)await multiplexer.GetDatabase().ExecuteAsync("PING"));
        }
        finally
        {
            await multiplexer.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("options")]
    [InlineData("string")]
    [InlineData("factory")]
    public async Task Releases_wake_subscribers_when_the_multiplexer_has_a_channel_prefix(string way)
    {
        var prefix = "app-" + Guid.NewGuid().ToString("N")[..6] + ":";
        await using var other = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration + ",channelPrefix=" + prefix);
        var options = new RedisSessionStoreOptions();
        switch (way)
        {
            case "options":
                options.ConfigurationOptions = new ConfigurationOptions { EndPoints = { { "127.0.0.1", _redis.Server.Port } }, ChannelPrefix = RedisChannel.Literal(prefix) };
                break;
            case "string":
                options.Configuration = _redis.Configuration + ",channelPrefix=" + prefix;
                break;
            default:
                options.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(other);
                break;
        }

        await using var store = new RedisSessionStateStore(options);
        var id = SessionIds.Create();
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        await using (await store.SubscribeAsync(id, () => woken.TrySetResult(), default))
        {
            Assert.True(await store.ReleaseAsync(id, created.LockId, default));
            await woken.Task.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task Scripts_are_loaded_before_the_first_call_and_again_when_redis_comes_back_empty()
    {
        await using var server = await RedisServer.StartAsync();
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = server.Configuration });
        var id = SessionIds.Create();

        // A NOSCRIPT answer is a failed EVALSHA (then the store would send the script text with EVAL). EVAL itself is
        // not counted: the start-up eviction check reads INFO memory through a one-line script of its own.
        await CreateAndReleaseAsync(store, id);
        var stats = await CommandStatsAsync(server);
        Assert.True(await FailedCallsAsync(server, "evalsha") == 0, "the first call paid NOSCRIPT and sent the script text");
        Assert.Equal(2, stats["evalsha"]);

        await server.RestartAsync(); // No persistence: no scripts, no keys.
        await WaitForAsync(async () => await CachedScriptsAsync(server) > 0, "the scripts were not loaded again after the restart");
        await CreateAndReleaseAsync(store, id);
        stats = await CommandStatsAsync(server);
        Assert.True(await FailedCallsAsync(server, "evalsha") == 0, "the first call after the restart paid NOSCRIPT");
        Assert.Equal(2, stats["evalsha"]);
    }

    [Fact]
    public async Task A_configuration_string_with_an_unknown_option_fails_at_start_up()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAppAsync(builder => builder.AddRedisStore(_redis.Configuration + ",noSuchOption=1")));

        Assert.Contains("SessionState:Redis:Configuration", error.Message, StringComparison.Ordinal);
        Assert.Contains("noSuchOption", error.Message, StringComparison.Ordinal);
    }

    private static async Task CreateAndReleaseAsync(ISessionStateStore store, string? id = null)
    {
        id ??= SessionIds.Create();
        var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(created.HasLock);
        Assert.True(await store.ReleaseAsync(id, created.LockId, default));
    }

    private async Task<int> ClientsNamedAsync(string name)
    {
        using var client = await _redis.Server.ConnectAsync();
        var list = await client.StringAsync("CLIENT", "LIST") ?? string.Empty;
        return list.Split('\n').Count(line => line.Contains(" name=" + name + " ", StringComparison.Ordinal));
    }

    private static async Task<Dictionary<string, long>> CommandStatsAsync(RedisServer server)
    {
        using var client = await server.ConnectAsync();
        return await client.CommandStatsAsync();
    }

    /// <summary>The <c>failed_calls</c> of a command in <c>INFO commandstats</c> (errors it answered, NOSCRIPT included).</summary>
    private static async Task<long> FailedCallsAsync(RedisServer server, string command)
    {
        using var client = await server.ConnectAsync();
        var info = await client.StringAsync("INFO", "commandstats") ?? string.Empty;
        var line = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("cmdstat_" + command + ":", StringComparison.Ordinal));
        var field = line?.Split(',').FirstOrDefault(f => f.StartsWith("failed_calls=", StringComparison.Ordinal));
        return field is null ? 0 : long.Parse(field["failed_calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<long> CachedScriptsAsync(RedisServer server)
    {
        using var client = await server.ConnectAsync();
        var info = await client.StringAsync("INFO", "memory") ?? string.Empty;
        var line = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("number_of_cached_scripts:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line["number_of_cached_scripts:".Length..]);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
    }

    private static async Task<WebApplication> StartAppAsync(Action<ILockedSessionBuilder> store, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["SessionState:Redis:KeyPrefix"] = "conn-" + Guid.NewGuid().ToString("N")[..8] });
        store(builder.Services.AddLockedSession());
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.UseLockedSession();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    /// <summary>Connects a <see cref="RedisConnection"/> and reads back the client settings it connected with.</summary>
    private sealed class RedisConnectionProbe(RedisSessionStoreOptions options)
    {
        public async Task<(int AsyncTimeout, int ConnectTimeout, bool AbortOnConnectFail)> ClientSettingsAsync()
        {
            await using var connection = new RedisConnection(options);
            var database = await connection.GetDatabaseAsync("probe", default);
            var settings = ConfigurationOptions.Parse(database.Multiplexer.Configuration);
            return (settings.AsyncTimeout, settings.ConnectTimeout, settings.AbortOnConnectFail);
        }
    }
}
