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

    [Fact]
    public async Task Behind_a_TLS_terminating_proxy_the_farm_configuration_sends_a_Secure_cookie()
    {
        await using var redis = await RedisServer.StartAsync();
        using var app = SampleApp.WithHostSettings(new Dictionary<string, string>
        {
            ["SessionState:Mode"] = "Redis",
            ["SessionState:Redis:Configuration"] = redis.Configuration,
        });

        // The proxy (on loopback here, as the sample trusts by default) took the request over HTTPS and forwards it over HTTP.
        using var proxied = new HttpRequestMessage(HttpMethod.Post, "/cart/increment");
        proxied.Headers.Add("X-Forwarded-Proto", "https");
        proxied.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var viaProxy = await app.Client.SendAsync(proxied);
        Assert.Equal(HttpStatusCode.OK, viaProxy.StatusCode);
        var cookie = Assert.Single(viaProxy.Headers.GetValues("Set-Cookie"), c => c.StartsWith("ASP.NET_SessionId=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);

        // A plain HTTP request with no forwarded scheme keeps a cookie it can send back (SameAsRequest).
        using var direct = await app.Client.PostAsync("/cart/increment", content: null);
        var plain = Assert.Single(direct.Headers.GetValues("Set-Cookie"), c => c.StartsWith("ASP.NET_SessionId=", StringComparison.Ordinal));
        Assert.DoesNotContain("; secure", plain, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<int> ConnectionsNamedAsync(RespClient client, string name)
    {
        var list = await client.StringAsync("CLIENT", "LIST") ?? string.Empty;
        return list.Split('\n').Count(line => line.Contains(" name=" + name + " ", StringComparison.Ordinal));
    }
}
