using System.Net;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SessionLocking.IntegrationTests.Infrastructure;
using SessionLocking.TestUtilities;
using StackExchange.Redis;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The sample in Redis mode, on a redis-server of its own: sessions, the distributed cache and the Data Protection key
/// ring all in Redis, over one multiplexer registered once in DI (the application's, disposed by its container).
/// </summary>
public sealed class RedisModeTests
{
    [Fact]
    public async Task Sessions_cache_and_data_protection_keys_share_one_multiplexer_in_Redis_mode()
    {
        await using var redis = await RedisServer.StartAsync();
        var name = "MvcApp-" + Guid.NewGuid().ToString("N")[..8];
        using (var app = SampleApp.WithHostSettings(new Dictionary<string, string>
               {
                   ["SessionState:Mode"] = "Redis",
                   ["SessionState:Redis:Configuration"] = $"{redis.Configuration},name={name}",
               }))
        {
            // Sessions: two increments of one session, stored under the store's keys.
            var browser = app.NewBrowser();
            using (var first = await browser.PostAsync("/cart/increment"))
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            }

            using (var second = await browser.PostAsync("/cart/increment"))
            {
                Assert.Contains("\"value\":2", await second.Content.ReadAsStringAsync());
            }

            using var inspect = await redis.ConnectAsync();
            Assert.Contains($"{{session:{browser.SessionId}}}:session", await inspect.KeysAsync("{session:*"));

            // The distributed cache.
            Assert.Equal(1, (await browser.GetJsonAsync("/api/visits")).GetProperty("visits").GetInt32());
            Assert.Equal(2, (await browser.GetJsonAsync("/api/visits")).GetProperty("visits").GetInt32());
            Assert.Equal(["MvcApp:visits"], await inspect.KeysAsync("MvcApp:visits"));

            // Data Protection: a key made now is kept in Redis.
            var protector = app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("RedisModeTests");
            Assert.Equal("secret", protector.Unprotect(protector.Protect("secret")));
            Assert.Equal(["MvcApp:DataProtection-Keys"], await inspect.KeysAsync("MvcApp:DataProtection-Keys"));

            // One multiplexer: the cache's factory hands out the one in DI, and Redis sees the connections of one
            // multiplexer only (its interactive and its subscription connection), not one set per component.
            var multiplexer = app.Services.GetRequiredService<IConnectionMultiplexer>();
            var cacheFactory = app.Services.GetRequiredService<IOptions<RedisCacheOptions>>().Value.ConnectionMultiplexerFactory!;
            Assert.Same(multiplexer, await cacheFactory());
            Assert.InRange(await ConnectionsNamedAsync(inspect, name), 1, 2);
        }

        // The application's container disposed its multiplexer; the store did not dispose it earlier (it worked to the end).
        using var after = await redis.ConnectAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await ConnectionsNamedAsync(after, name) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the sample's multiplexer stayed connected after the app stopped");
            await Task.Delay(100);
        }
    }

    private static async Task<int> ConnectionsNamedAsync(RespClient client, string name)
    {
        var list = await client.StringAsync("CLIENT", "LIST") ?? string.Empty;
        return list.Split('\n').Count(line => line.Contains(" name=" + name + " ", StringComparison.Ordinal));
    }
}
