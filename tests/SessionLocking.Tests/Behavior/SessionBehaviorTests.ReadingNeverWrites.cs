using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Reading alone never writes (issue 17, item 1). On 005cd90 a value read through <c>Get&lt;T&gt;</c> or the indexer was
/// serialized again at the release under the type the reader asked for and written back whenever the bytes differed:
/// a server on an older version of a type dropped the members it did not know, <c>Get&lt;CartBase&gt;</c> cut a subclass
/// down, <c>Get&lt;object&gt;</c> rewrote the alias so that the indexer could no longer read the item, and bytes written
/// through <c>ISession</c> came back in another format. Each case runs on every store: the stored bytes stay identical
/// and the store is asked for no write.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    /// <summary>The alias both versions of the application store their cart under (what <c>AllowType&lt;Shop.Models.Cart&gt;()</c> gives each build).</summary>
    private const string CartAlias = "Shop.Models.Cart";

    /// <summary>Makes a second application version use the stores of <paramref name="first"/> (servers are shared already; memory is not).</summary>
    protected virtual void ShareStore(ISessionStateStore first, IServiceCollection services)
    {
    }

    [Theory]
    [InlineData("get")]
    [InlineData("indexer")]
    public async Task A_version_that_only_reads_a_value_keeps_the_members_it_does_not_know(string readWith)
    {
        await using var v2 = await StartVersionAsync(o => o.AllowType<CartV2>(CartAlias));
        await using var v1 = await StartVersionAsync(o => o.AllowType<CartV1>(CartAlias), beside: v2);
        using var client = v2.Host.CreateClient();
        (await client.PostAsync("/v2/cart?coupon=SAVE10")).Dispose();
        var before = await StoredAsync(v2, client.SessionId!);
        using var old = v1.Host.CreateClient();
        old.SessionId = client.SessionId;

        var read = await old.GetJsonAsync<string>($"/read?key=cart&as={readWith}");

        if (readWith == "get")
        {
            Assert.Equal("a", read);
        }

        AssertSameBytes(before, await StoredAsync(v2, client.SessionId!));
        Assert.Equal("a SAVE10", await client.GetJsonAsync<string>("/v2/cart"));
        Assert.Equal(0, v1.Store.Writes);
    }

    [Fact]
    public async Task Reading_a_subclass_as_its_base_class_keeps_the_subclass()
    {
        await using var app = await StartVersionAsync(o => o.AllowType<CartV2>(CartAlias));
        using var client = app.Host.CreateClient();
        (await client.PostAsync("/v2/cart?coupon=SAVE10")).Dispose();
        var before = await StoredAsync(app, client.SessionId!);
        var writes = app.Store.Writes;

        Assert.Equal("a", await client.GetJsonAsync<string>("/read?key=cart&as=base"));

        AssertSameBytes(before, await StoredAsync(app, client.SessionId!));
        Assert.Equal(writes, app.Store.Writes);
        Assert.Equal("a SAVE10", await client.GetJsonAsync<string>("/v2/cart"));
    }

    [Fact]
    public async Task Reading_a_value_as_object_keeps_it_readable_through_the_indexer()
    {
        await using var app = await StartVersionAsync(_ => { });
        using var client = app.Host.CreateClient();
        (await client.PostAsync("/v2/count?value=5")).Dispose();
        var before = await StoredAsync(app, client.SessionId!);
        var writes = app.Store.Writes;

        Assert.Equal("5", await client.GetJsonAsync<string>("/read?key=count&as=object"));

        AssertSameBytes(before, await StoredAsync(app, client.SessionId!));
        Assert.Equal(writes, app.Store.Writes);
        Assert.Equal("5", await client.GetJsonAsync<string>("/read?key=count&as=indexer"));
    }

    [Fact]
    public async Task Reading_bytes_written_through_ISession_with_the_indexer_keeps_them_as_they_were()
    {
        await using var app = await StartVersionAsync(_ => { });
        using var client = app.Host.CreateClient();
        (await client.PostAsync("/core/set?key=name&value=Ada")).Dispose();
        var before = await StoredAsync(app, client.SessionId!);
        var writes = app.Store.Writes;

        (await client.GetAsync("/read?key=name&as=indexer")).Dispose();

        AssertSameBytes(before, await StoredAsync(app, client.SessionId!));
        Assert.Equal(writes, app.Store.Writes);
        Assert.Equal("Ada", await client.GetJsonAsync<string>("/core/get?key=name"));
    }

    [Fact]
    public async Task A_change_made_inside_an_object_that_was_read_is_saved()
    {
        await using var app = await StartVersionAsync(o => o.AllowType<CartV2>(CartAlias));
        using var client = app.Host.CreateClient();
        (await client.PostAsync("/v2/cart?coupon=SAVE10")).Dispose();

        (await client.PostAsync("/v2/cart/add?item=b")).Dispose();
        (await client.PostAsync("/v2/cart/add?item=c")).Dispose();

        Assert.Equal("a,b,c SAVE10", await client.GetJsonAsync<string>("/v2/cart"));
    }

    /// <summary>
    /// docs/migration.md: a version that changes a value whose type it knows only in part keeps the members it does not
    /// know when its type has a <see cref="JsonExtensionDataAttribute"/> member.
    /// </summary>
    [Fact]
    public async Task An_older_version_that_changes_a_value_keeps_unknown_members_in_its_extension_data()
    {
        await using var v2 = await StartVersionAsync(o => o.AllowType<CartV2>(CartAlias));
        await using var v1 = await StartVersionAsync(o => o.AllowType<CartV1WithExtensionData>(CartAlias), beside: v2);
        using var client = v2.Host.CreateClient();
        (await client.PostAsync("/v2/cart?coupon=SAVE10")).Dispose();
        using var old = v1.Host.CreateClient();
        old.SessionId = client.SessionId;

        (await old.PostAsync("/v1/cart/add?item=b")).Dispose();

        Assert.Equal("a,b SAVE10", await client.GetJsonAsync<string>("/v2/cart"));
    }

    private async Task<AppVersion> StartVersionAsync(Action<LockedSessionOptions> options, AppVersion? beside = null)
    {
        var host = await StartAsync(
            options,
            services =>
            {
                if (beside is not null)
                {
                    ShareStore(beside.Store.Inner, services);
                }

                // Record what the middleware asks of the store, around whichever store is registered.
                var original = services.Last(d => d.ServiceType == typeof(ISessionStateStore));
                services.Remove(original);
                services.AddSingleton<ISessionStateStore>(sp => new RecordingStore(
                    original.ImplementationInstance as ISessionStateStore ?? (ISessionStateStore)original.ImplementationFactory!(sp)));
            },
            MapVersionEndpoints);
        return new AppVersion(host, (RecordingStore)host.Services.GetRequiredService<ISessionStateStore>());
    }

    private static void MapVersionEndpoints(WebApplication app)
    {
        app.MapPost("/v2/cart", (HttpContext context, string coupon) =>
            context.GetSessionState().Set("cart", new CartV2 { Items = ["a"], Coupon = coupon }));
        app.MapGet("/v2/cart", (HttpContext context) =>
            Results.Ok(context.GetSessionState().Get<CartV2>("cart") is { } cart ? string.Join(",", cart.Items) + " " + cart.Coupon : "none"));
        app.MapPost("/v2/cart/add", (HttpContext context, string item) => context.GetSessionState().Get<CartV2>("cart")!.Items.Add(item));
        app.MapPost("/v1/cart/add", (HttpContext context, string item) => context.GetSessionState().Get<CartV1WithExtensionData>("cart")!.Items.Add(item));
        app.MapPost("/v2/count", (HttpContext context, int value) => context.GetSessionState()["count"] = value);

        // Reads only, in a request that may write (Required): whatever is written back is the reading's doing.
        app.MapGet("/read", (HttpContext context, string key, string @as) =>
        {
            var session = context.GetSessionState();
            try
            {
                return Results.Ok(@as switch
                {
                    "get" => string.Join(",", session.Get<CartV1>(key)!.Items),
                    "base" => string.Join(",", session.Get<CartBase>(key)!.Items),
                    "object" => session.Get<object>(key)?.ToString(),
                    _ => session[key] switch
                    {
                        CartV1 cart => string.Join(",", cart.Items),
                        byte[] bytes => "bytes " + bytes.Length,
                        var value => value?.ToString(),
                    },
                });
            }
            catch (SessionSerializationException ex)
            {
                // A store's format may not offer a type through the indexer; the read still must not write.
                return Results.Ok("unreadable: " + ex.Message);
            }
        }).WithSessionState(SessionStateBehavior.Required);
    }

    private static async Task<IReadOnlyDictionary<string, byte[]>> StoredAsync(AppVersion app, string id)
    {
        var stored = await app.Store.Inner.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, stored.Status);
        return stored.Data!.Items.ToDictionary(i => i.Key, i => i.Value.ToArray(), StringComparer.Ordinal);
    }

    private static void AssertSameBytes(IReadOnlyDictionary<string, byte[]> before, IReadOnlyDictionary<string, byte[]> after)
    {
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(after[name]),
                $"the item '{name}' was rewritten: {Convert.ToHexString(bytes)} became {Convert.ToHexString(after[name])}");
        }
    }

    private sealed record AppVersion(TestHost Host, RecordingStore Store) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    public class CartBase
    {
        public List<string> Items { get; set; } = [];
    }

    /// <summary>The cart of the newer version: it has a coupon.</summary>
    public sealed class CartV2 : CartBase
    {
        public string? Coupon { get; set; }
    }

    /// <summary>The cart of the older version, still running during a rolling deployment: no coupon.</summary>
    public sealed class CartV1
    {
        public List<string> Items { get; set; } = [];
    }

    /// <summary>The older cart, written to keep what a newer version added (docs/migration.md).</summary>
    public sealed class CartV1WithExtensionData
    {
        public List<string> Items { get; set; } = [];

        [JsonExtensionData]
        public Dictionary<string, JsonElement>? Unknown { get; set; }
    }
}
