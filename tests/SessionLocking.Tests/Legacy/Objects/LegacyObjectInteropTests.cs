using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>
/// A classic application's cart object shared through a real Redis, in the provider's V5 collection and V4 hash: the
/// classic side (<see cref="LegacyProviderSimulator"/>, with the real BinaryFormatter) and the new application change it
/// in turns, each with the counter beside it, and each reads the other's changes.
/// </summary>
public sealed class LegacyObjectInteropTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _application = "objects-" + Guid.NewGuid().ToString("N")[..8];
    private ConnectionMultiplexer _redis = null!;

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private LegacyProviderSimulator Classic(RedisSessionStateProviderFormat format) =>
        new(_redis, _application, format, TimeZoneInfo.Local, TimeSpan.FromSeconds(110));

    private Task<TestHost> HostAsync(RedisSessionStateProviderFormat format) =>
        TestHost.StartAsync(
            o => o.RegenerateUnknownSessionIds = false,
            b => b.AddRedisSessionStateProviderStore(o =>
            {
                o.Configuration = redis.Configuration;
                o.ApplicationName = _application;
                o.Format = format;
                LegacyOracle.Map(o);
                o.MapLegacyType<NewShop.Narrow>("LegacyShop.Wider, SessionLocking.Tests");
            }),
            configureApp: app =>
            {
                app.MapPost("/cart/add", [SessionState(SessionStateBehavior.Required)] (HttpContext context, string sku) =>
                {
                    var cart = context.GetSessionState().Get<NewShop.Cart>("cart")!;
                    cart.Lines.Add(new NewShop.CartLine { Sku = sku, Quantity = cart.Lines.Count, Price = 1.25m });
                    cart.Counts[sku] = cart.Counts.GetValueOrDefault(sku) + 1;
                    return Results.Ok(cart.Lines.Count);
                });
                app.MapGet("/cart/lines", [SessionState(SessionStateBehavior.ReadOnly)] (HttpContext context) =>
                    Results.Ok(((NewShop.Cart)context.GetSessionState()["cart"]!).Lines.Select(l => l.Sku).ToArray()));
                app.MapPost("/narrow", [SessionState(SessionStateBehavior.Required)] (HttpContext context) =>
                {
                    var narrow = context.GetSessionState().Get<NewShop.Narrow>("w")!;
                    narrow.Id++;
                    return Results.Ok(narrow.Id);
                });
            });

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task A_cart_object_is_shared_both_ways_interleaved_with_the_classic_sides_increments(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = SessionIds.Create();
        var first = await classic.BeginExclusiveAsync(id);
        var start = LegacyOracle.SampleCart();
        first["counter"] = 0;
        first["cart"] = new OpaqueObject(LegacyOracle.Serialize(start));
        Assert.True(await first.EndAsync());
        await using var host = await HostAsync(format);
        using var client = host.CreateClient();
        client.SessionId = id;
        List<string> expected = [.. start.Lines.Select(l => l.Sku!)];

        for (var round = 0; round < 3; round++)
        {
            // The classic side: its own class, through its BinaryFormatter.
            var request = await classic.BeginExclusiveAsync(id);
            var cart = (LegacyShop.Cart)LegacyOracle.Deserialize(((OpaqueObject)request["cart"]!).Payload);
            Assert.Equal(expected, cart.Lines.Select(l => l.Sku));
            Assert.Same(cart.Billing, cart.Shipping);
            cart.Lines.Add(new LegacyShop.CartLine { Sku = "classic-" + round, Quantity = round, Price = 2m });
            request["cart"] = new OpaqueObject(LegacyOracle.Serialize(cart));
            request["counter"] = (int)(format == RedisSessionStateProviderFormat.V5 ? request["counter"]! : Convert.ToInt32(request["counter"], System.Globalization.CultureInfo.InvariantCulture)) + 1;
            Assert.True(await request.EndAsync());
            expected.Add("classic-" + round);

            // The new side: the mapped type, through the middleware.
            Assert.Equal(expected.Count + 1, await client.PostJsonAsync<int>("/cart/add?sku=new-" + round));
            expected.Add("new-" + round);
            Assert.Equal(2 * round + 2, await client.PostJsonAsync<int>("/increment"));
        }

        Assert.Equal(expected, await client.GetJsonAsync<string[]>("/cart/lines"));
        var last = await classic.BeginReadOnlyAsync(id);
        var final = (LegacyShop.Cart)LegacyOracle.Deserialize(((OpaqueObject)last["cart"]!).Payload);
        Assert.Equal(expected, final.Lines.Select(l => l.Sku));
        Assert.Equal(3, final.Counts.Count(c => c.Key.StartsWith("new-", StringComparison.Ordinal)));
        Assert.Same(final, final.Billing!.Cart);
        Assert.Equal(start.Total, final.Total);
        Assert.Equal(start.Created, final.Created);
        Assert.Equal(start.Created.Kind, final.Created.Kind);
        Assert.Equal(start.cust, final.cust);
        Assert.Equal(6, Convert.ToInt32(last["counter"], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task An_object_that_cannot_be_written_back_faithfully_fails_the_request_and_its_stored_bytes_stay(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = SessionIds.Create();
        var first = await classic.BeginExclusiveAsync(id);
        var payload = LegacyOracle.Serialize(new LegacyShop.Wider { Id = 1, Extra = "only the classic class has me" });
        first["w"] = new OpaqueObject(payload);
        first["counter"] = 1;
        Assert.True(await first.EndAsync());
        await using var host = await HostAsync(format);
        using var client = host.CreateClient();
        client.SessionId = id;

        // The save fails at the end of the request: a 500, or (the response already on its way) an aborted one.
        try
        {
            using var response = await client.PostAsync("/narrow");
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        }
        catch (HttpRequestException)
        {
        }

        var request = await classic.BeginReadOnlyAsync(id);
        Assert.Equal(payload, ((OpaqueObject)request["w"]!).Payload);
    }
}
