using System.Buffers.Binary;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Issue 17, item 1b, as it was seen: a ported application on Redis stored <c>List&lt;Cart&gt;</c> under an alias that named
/// its assembly version; after a deployment that only bumped that version every cart page answered 500
/// (<c>SessionSerializationException: … has not allowed</c>). Such values read after the fix, and reading them writes nothing.
/// </summary>
public sealed class RedisStoredAliasTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    public sealed class Cart
    {
        public List<string> Items { get; set; } = [];
    }

    [Fact]
    public async Task A_list_stored_by_a_build_with_another_assembly_version_reads_on_the_new_build()
    {
        var prefix = "alias-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await TestHost.StartAsync(
            o => o.AllowType<List<Cart>>(),
            b => b.AddRedisStore(o =>
            {
                o.Configuration = redis.Configuration;
                o.KeyPrefix = prefix;
            }),
            configureApp: app => app.MapGet("/carts", (HttpContext context) =>
                Results.Ok(string.Join(",", ((List<Cart>)context.GetSessionState()["carts"]!).SelectMany(c => c.Items)))));
        var store = host.Services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        var stored = Envelope(
            typeof(List<Cart>).FullName!.Replace("Version=" + typeof(Cart).Assembly.GetName().Version, "Version=1.0.0.41", StringComparison.Ordinal),
            """[{"Items":["apple","pear"]}]""");
        Assert.Contains("Version=1.0.0.41", Encoding.UTF8.GetString(stored), StringComparison.Ordinal);
        var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["carts"] = stored }, [], TimeSpan.FromMinutes(20), isNew: true), default));
        using var client = host.CreateClient();
        client.SessionId = id;

        Assert.Equal("apple,pear", await client.GetJsonAsync<string>("/carts"));

        Assert.Equal(stored, (await store.GetSharedAsync(id, default)).Data!.Items["carts"]);
    }

    /// <summary>The stored form of a typed value: format 1, the alias's length and UTF-8 bytes, the JSON.</summary>
    private static byte[] Envelope(string alias, string json)
    {
        var aliasBytes = Encoding.UTF8.GetBytes(alias);
        var head = new byte[3];
        head[0] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(head.AsSpan(1), (ushort)aliasBytes.Length);
        return [.. head, .. aliasBytes, .. Encoding.UTF8.GetBytes(json)];
    }
}
