using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// The new application and a classic one (<see cref="LegacyProviderSimulator"/>) on one Redis, one session: the same
/// items, the same locks, both ways.
/// </summary>
public sealed class LegacyInteropTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _application = "interop-" + Guid.NewGuid().ToString("N")[..8];
    private ConnectionMultiplexer _redis = null!;

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private static TimeZoneInfo Zone(int hours) =>
        TimeZoneInfo.CreateCustomTimeZone($"Test{hours:+00;-00}", TimeSpan.FromHours(hours), $"Test {hours}", $"Test {hours}");

    private LegacyProviderSimulator Classic(RedisSessionStateProviderFormat format, TimeZoneInfo? zone = null, TimeSpan? executionTimeout = null) =>
        new(_redis, _application, format, zone ?? TimeZoneInfo.Local, executionTimeout ?? TimeSpan.FromSeconds(110));

    private ServiceProvider Services(RedisSessionStateProviderFormat format, TimeZoneInfo? zone = null)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o => Configure(o, format, zone));
        return services.BuildServiceProvider();
    }

    private void Configure(RedisSessionStateProviderStoreOptions o, RedisSessionStateProviderFormat format, TimeZoneInfo? zone = null)
    {
        o.Configuration = redis.Configuration;
        o.ApplicationName = _application;
        o.Format = format;
        o.LockTimeZone = zone ?? TimeZoneInfo.Local;
    }

    private Task<TestHost> HostAsync(RedisSessionStateProviderFormat format, Action<LockedSessionOptions>? options = null, Action<WebApplication>? app = null, TimeZoneInfo? zone = null) =>
        TestHost.StartAsync(
            o =>
            {
                o.RegenerateUnknownSessionIds = false;
                options?.Invoke(o);
            },
            b => b.AddRedisSessionStateProviderStore(o => Configure(o, format, zone)),
            configureApp: app);

    private static async Task<string> ClassicSessionAsync(LegacyProviderSimulator classic, params (string Name, object? Value)[] items)
    {
        var id = SessionIds.Create();
        var request = await classic.BeginExclusiveAsync(id);
        Assert.True(request.IsNew);
        foreach (var (name, value) in items)
        {
            request[name] = value;
        }

        Assert.True(await request.EndAsync());
        return id;
    }

    private static readonly (string Name, object? Value)[] Primitives =
    [
        ("String", "Grüße, 世界"), ("Int32", -123456), ("Boolean", true), ("DateTime", new DateTime(2024, 2, 29, 13, 14, 15, 678)),
        ("Decimal", 12345.6789m), ("Byte", (byte)200), ("Char", 'ß'), ("Single", 1.5f), ("Double", Math.PI), ("SByte", (sbyte)-7),
        ("Int16", (short)-300), ("Int64", long.MinValue + 1), ("UInt16", (ushort)65000), ("UInt32", 4_000_000_000u),
        ("UInt64", ulong.MaxValue), ("TimeSpan", TimeSpan.FromMinutes(90.5)), ("Guid", Guid.NewGuid()), ("Null", null),
    ];

    // ---- values ----

    [Fact]
    public async Task Every_classic_primitive_written_by_the_classic_side_reads_here_as_its_NET_type()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5);
        var id = await ClassicSessionAsync(classic, [.. Primitives, ("Legacy.Cart", new OpaqueObject([0, 1, 0, 0, 0, 0xFF, 9, 9, 9]))]);
        await using var services = Services(RedisSessionStateProviderFormat.V5);
        var store = services.GetRequiredService<ISessionStateStore>();
        var format = services.GetRequiredService<ISessionItemFormat>();

        var loaded = await store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        foreach (var (name, value) in Primitives)
        {
            var decoded = format.Decode(name, loaded.Data!.Items[name.ToLowerInvariant()]);
            Assert.Equal(value, decoded);
            Assert.Equal(value?.GetType(), decoded?.GetType());
        }

        Assert.Equal(-123456, format.Decode("Int32", loaded.Data!.Items["Int32"], typeof(int)));
        var error = Assert.Throws<SessionSerializationException>(() => format.Decode("Legacy.Cart", loaded.Data.Items["Legacy.Cart"]));
        Assert.Equal("Legacy.Cart", error.Key);
        Assert.Contains("BinaryFormatter", error.Message);
        Assert.Contains("'Legacy.Cart'", error.Message);
    }

    [Fact]
    public async Task Every_primitive_written_here_reads_on_the_classic_side_as_the_same_value_and_type()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5);
        await using var services = Services(RedisSessionStateProviderFormat.V5);
        var store = services.GetRequiredService<ISessionStateStore>();
        var format = services.GetRequiredService<ISessionItemFormat>();
        var id = SessionIds.Create();
        var taken = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        var set = Primitives.ToDictionary(p => p.Name, p => p.Value is null ? format.Encode(p.Name, null, typeof(object)) : format.Encode(p.Name, p.Value, p.Value.GetType()));
        set["Bytes"] = format.EncodeBytes("Bytes", new byte[] { 1, 2, 3 });

        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(set, [], TimeSpan.FromMinutes(20), isNew: true), default));

        var request = await classic.BeginReadOnlyAsync(id);
        foreach (var (name, value) in Primitives)
        {
            Assert.Equal(value, request[name]);
            Assert.Equal(value?.GetType(), request[name]?.GetType());
        }

        // A byte[] is what the classic side's BinaryFormatter writes for one (MS-NRBF): header, ArraySinglePrimitive of Byte, MessageEnd.
        byte[] nrbf = [0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0, 15, 1, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2, 3, 11];
        Assert.Equal(nrbf, Assert.IsType<OpaqueObject>(request["Bytes"]).Payload);
        Assert.Equal(1200, request.TimeoutSeconds);
    }

    [Fact]
    public async Task A_classic_BinaryFormatter_item_is_kept_byte_for_byte_when_the_new_side_changes_other_items()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5);
        var payload = Enumerable.Range(0, 300).Select(i => (byte)(i * 7)).ToArray();
        var id = await ClassicSessionAsync(classic, ("cart", new OpaqueObject(payload)), ("counter", 41), ("name", "Ada"));
        await using var host = await HostAsync(RedisSessionStateProviderFormat.V5);
        using var client = host.CreateClient();
        client.SessionId = id;

        Assert.Equal(42, await client.PostJsonAsync<int>("/increment"));
        (await client.PostAsync("/set?key=city&value=Paris")).Dispose();
        using var touchingTheObject = await client.GetAsync("/get?key=cart");

        Assert.Equal(HttpStatusCode.InternalServerError, touchingTheObject.StatusCode);
        var request = await classic.BeginReadOnlyAsync(id);
        Assert.Equal(["cart", "counter", "name", "city"], request.Items.Select(i => i.Key));
        Assert.Equal(payload, Assert.IsType<OpaqueObject>(request["cart"]).Payload);
        Assert.Equal(42, request["counter"]);
        Assert.Equal("Ada", request["name"]);
        Assert.Equal("Paris", request["city"]);
        Assert.Equal(id, client.SessionId);
    }

    [Fact]
    public async Task V4_items_are_JSON_both_ways_and_only_changed_fields_are_written()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V4);
        var id = await ClassicSessionAsync(classic, ("counter", 41), ("name", "Ada"), ("flag", true));
        var nameKey = classic.Keys(id)[1];
        await _redis.GetDatabase().HashSetAsync(nameKey, "untouched", "{ \"spacing\" : 1 }");
        await using var host = await HostAsync(RedisSessionStateProviderFormat.V4);
        using var client = host.CreateClient();
        client.SessionId = id;

        Assert.Equal(42, await client.PostJsonAsync<int>("/increment"));
        Assert.Equal("Ada", await client.GetJsonAsync<string>("/get?key=NAME"));
        (await client.PostAsync("/set?key=city&value=Paris")).Dispose();

        Assert.Equal("{ \"spacing\" : 1 }", (string?)await _redis.GetDatabase().HashGetAsync(nameKey, "untouched"));
        var request = await classic.BeginReadOnlyAsync(id);
        Assert.Equal(42, request["counter"]);
        Assert.Equal("Paris", request["city"]);
        Assert.Equal(true, request["flag"]);
    }

    /// <summary>
    /// Issue 17, item 1: on 005cd90 reading a classic JSON value here with a type that lacks some of its members wrote
    /// the value back without them (the read kept the object and serialized it again at the release).
    /// </summary>
    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task A_JSON_value_the_classic_side_wrote_is_kept_byte_for_byte_when_read_here_with_a_type_that_lacks_members(RedisSessionStateProviderFormat format)
    {
        // V5: classic code stores JSON strings (docs/legacy-redis.md); V4: the JSON redisSerializerType stores the object as JSON.
        const string json = """{"Items":["a"],"Coupon":"SAVE10","Gift":{"Wrap":true}}""";
        var classic = Classic(format);
        var id = await ClassicSessionAsync(classic, ("cart", format == RedisSessionStateProviderFormat.V5 ? json : JsonDocument.Parse(json).RootElement.Clone()), ("counter", 1));
        var before = await RawDataAsync(classic, id);
        RecordingStore? recording = null;
        await using var host = await TestHost.StartAsync(
            o => o.RegenerateUnknownSessionIds = false,
            b => b.AddRedisSessionStateProviderStore(o => Configure(o, format)),
            services =>
            {
                var original = services.Last(d => d.ServiceType == typeof(ISessionStateStore));
                services.Remove(original);
                services.AddSingleton<ISessionStateStore>(sp => recording = new RecordingStore((ISessionStateStore)original.ImplementationFactory!(sp)));
            },
            app => app.MapGet("/old-cart", (HttpContext context) => Results.Ok(string.Join(",", context.GetSessionState().Get<OldCart>("cart")!.Items))));
        using var client = host.CreateClient();
        client.SessionId = id;

        Assert.Equal("a", await client.GetJsonAsync<string>("/old-cart"));

        Assert.Equal(before, await RawDataAsync(classic, id));
        Assert.Equal(0, recording!.Writes);
        var request = await classic.BeginReadOnlyAsync(id);
        Assert.Contains("\"Coupon\":\"SAVE10\"", (string)request["cart"]!, StringComparison.Ordinal);
    }

    /// <summary>The session's data key as Redis holds it: V5 one binary value, V4 every field of the hash.</summary>
    private async Task<string> RawDataAsync(LegacyProviderSimulator classic, string id)
    {
        var db = _redis.GetDatabase();
        var key = classic.Keys(id)[1];
        return classic.V5
            ? Convert.ToHexString((byte[])(await db.StringGetAsync(key))!)
            : string.Join("\n", (await db.HashGetAllAsync(key)).Select(e => e.Name + "=" + Convert.ToHexString((byte[])e.Value!)).Order(StringComparer.Ordinal));
    }

    /// <summary>The classic application's cart as an older version of the new side knows it: no coupon, no gift.</summary>
    public sealed class OldCart
    {
        public List<string> Items { get; set; } = [];
    }

    // ---- locks ----

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task Interleaved_increments_from_both_sides_lose_nothing_and_never_overlap(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = await ClassicSessionAsync(classic, ("counter", 0));
        var intervals = new List<(string Side, double Start, double End)>();
        await using var host = await HostAsync(format, o => o.PollInterval = TimeSpan.FromMilliseconds(100), app => app.MapPost("/timed-increment", async (HttpContext context) =>
        {
            var session = context.GetSessionState();
            var start = TestEndpoints.Now();
            var value = session.Get<int>("counter");
            await Task.Delay(5);
            session.Set("counter", value + 1);
            lock (intervals)
            {
                intervals.Add(("new", start, TestEndpoints.Now()));
            }

            return Results.Ok(value + 1);
        }).WithSessionState(SessionStateBehavior.Required));
        using var client = host.CreateClient();
        client.SessionId = id;

        async Task ClassicIncrementsAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var request = await classic.BeginExclusiveAsync(id);
                var start = TestEndpoints.Now();
                var value = (int)request["counter"]!;
                await Task.Delay(5);
                request["counter"] = value + 1;
                var end = TestEndpoints.Now();
                Assert.True(await request.EndAsync());
                lock (intervals)
                {
                    intervals.Add(("classic", start, end));
                }
            }
        }

        var ours = Enumerable.Range(0, 30).Select(_ => client.PostJsonAsync<int>("/timed-increment"));
        await Task.WhenAll([.. ours, ClassicIncrementsAsync(8), ClassicIncrementsAsync(8)]);

        Assert.Equal(46, await client.GetJsonAsync<int>("/counter"));
        Assert.Equal(46, intervals.Count);
        Assert.Contains(intervals, i => i.Side == "classic");
        var ordered = intervals.OrderBy(i => i.Start).ToArray();
        for (var i = 1; i < ordered.Length; i++)
        {
            Assert.True(ordered[i].Start >= ordered[i - 1].End, $"{ordered[i - 1]} and {ordered[i]} overlapped");
        }

        Assert.Empty(classic.ForceReleases);
        Assert.Equal(id, client.SessionId);
    }

    [Fact]
    public async Task A_read_only_request_here_waits_for_a_classic_writer_and_a_classic_reader_waits_for_ours()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5);
        var id = await ClassicSessionAsync(classic, ("a", "1"));
        await using var host = await HostAsync(RedisSessionStateProviderFormat.V5);
        using var client = host.CreateClient();
        client.SessionId = id;

        var writer = await classic.BeginExclusiveAsync(id);
        var reader = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-readonly?ms=1");
        await Task.Delay(700);
        Assert.False(reader.IsCompleted);
        writer["a"] = "2";
        var releasing = TestEndpoints.Now();
        Assert.True(await writer.EndAsync());
        Assert.True((await reader).Start >= releasing);
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));

        var ours = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=800");
        await Until(async () => !(await classic.LockValueAsync(id)).IsNull);
        var classicReader = await classic.BeginReadOnlyAsync(id);
        Assert.True(classicReader.Started >= (await ours).End);
    }

    [Fact]
    public async Task A_classic_holder_past_the_execution_timeout_is_force_released_here_and_its_late_write_is_rejected()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5, executionTimeout: TimeSpan.FromSeconds(60));
        var id = await ClassicSessionAsync(classic, ("a", "classic"));
        await using var host = await HostAsync(RedisSessionStateProviderFormat.V5, o => o.ExecutionTimeout = TimeSpan.FromSeconds(2));
        using var client = host.CreateClient();
        client.SessionId = id;
        var stuck = await classic.BeginExclusiveAsync(id);
        var taken = TestEndpoints.Now();

        using var response = await client.PostAsync("/set?key=a&value=new");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange(TestEndpoints.Now() - taken, 1500, 15000);
        stuck["a"] = "stale";
        Assert.False(await stuck.EndAsync());
        Assert.Equal("new", (await classic.BeginReadOnlyAsync(id))["a"]);
    }

    [Fact]
    public async Task A_holder_here_past_the_classic_execution_timeout_is_force_released_by_the_classic_side_and_its_write_back_is_fenced()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5, executionTimeout: TimeSpan.FromSeconds(2));
        var id = await ClassicSessionAsync(classic, ("a", "classic"));
        await using var host = await HostAsync(RedisSessionStateProviderFormat.V5, o => o.ExecutionTimeout = TimeSpan.FromSeconds(60));
        using var client = host.CreateClient();
        client.SessionId = id;
        var held = await host.HoldLockAsync(client, "ours");
        var holding = TestEndpoints.Now();

        var request = await classic.BeginExclusiveAsync(id);

        Assert.InRange(TestEndpoints.Now() - holding, 1000, 15000);
        var age = Assert.Single(classic.ForceReleases);
        Assert.InRange(age, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15));
        request["a"] = "classic wins";
        Assert.True(await request.EndAsync());
        host.Gate.Open();

        // The held response was flushed before its write-back was rejected: the client sees it fail (aborted, or an error status).
        var late = await Record.ExceptionAsync(async () =>
        {
            using var response = await held;
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsByteArrayAsync();
        });
        Assert.True(late is null or HttpRequestException, late?.ToString());
        Assert.Equal("classic wins", (await classic.BeginReadOnlyAsync(id))["a"]);
        Assert.Null((await classic.BeginReadOnlyAsync(id))["held"]);
    }

    [Fact]
    public async Task Lock_ages_agree_across_a_time_zone_skew_when_LockTimeZone_is_the_classic_servers_zone()
    {
        var plusFive = Zone(5);
        var classic = Classic(RedisSessionStateProviderFormat.V5, plusFive, TimeSpan.FromSeconds(10));
        var id = await ClassicSessionAsync(classic, ("a", "1"));
        await using var services = Services(RedisSessionStateProviderFormat.V5, plusFive);
        var store = services.GetRequiredService<ISessionStateStore>();

        // Their lock, seen here: young.
        var theirs = await classic.BeginExclusiveAsync(id);
        var seen = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Locked, seen.Status);
        Assert.InRange(seen.LockAge, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.True(await theirs.EndAsync(write: false));

        // Our lock, seen there: young, so the classic side waits instead of force-releasing it.
        var ours = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        var value = (long)await classic.LockValueAsync(id);
        Assert.InRange(classic.LocalTicks() - value, 0, TimeSpan.TicksPerSecond * 5);
        using (var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(1200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => classic.BeginExclusiveAsync(id, wait.Token));
        }

        Assert.Empty(classic.ForceReleases);
        Assert.True(await store.ReleaseAsync(id, ours.LockId, default));
        Assert.True(await (await classic.BeginExclusiveAsync(id)).EndAsync(write: false));
    }

    [Fact]
    public async Task A_wrong_LockTimeZone_makes_the_classic_side_see_our_lock_as_hours_old()
    {
        // The control for the test above: the option is what makes the ages agree.
        var classic = Classic(RedisSessionStateProviderFormat.V5, Zone(5), TimeSpan.FromSeconds(10));
        var id = await ClassicSessionAsync(classic, ("a", "1"));
        await using var services = Services(RedisSessionStateProviderFormat.V5, Zone(0));
        var store = services.GetRequiredService<ISessionStateStore>();

        var ours = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        var request = await classic.BeginExclusiveAsync(id);

        Assert.InRange(Assert.Single(classic.ForceReleases), TimeSpan.FromHours(4.9), TimeSpan.FromHours(5.1));
        Assert.True(await request.EndAsync(write: false));
        Assert.False(await store.ReleaseAsync(id, ours.LockId, default));
    }

    [Fact]
    public async Task A_lock_value_that_is_not_a_number_counts_as_very_old_and_can_be_force_released()
    {
        var classic = Classic(RedisSessionStateProviderFormat.V5);
        var id = await ClassicSessionAsync(classic, ("a", "1"));
        await using var services = Services(RedisSessionStateProviderFormat.V5);
        var store = services.GetRequiredService<ISessionStateStore>();
        await _redis.GetDatabase().StringSetAsync(classic.Keys(id)[0], "not-a-tick-count", TimeSpan.FromMinutes(1));

        var seen = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.Equal(SessionStoreStatus.Locked, seen.Status);
        Assert.True(seen.LockAge > TimeSpan.FromDays(365 * 100));
        Assert.True(await store.ForceReleaseAsync(id, seen.LockId, default));
        var taken = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Found, taken.Status);
        Assert.True(await store.ReleaseAsync(id, taken.LockId, default));
    }

    // ---- expiry ----

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task The_expiry_slides_on_both_sides_and_the_timeout_is_shared(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = await ClassicSessionAsync(classic, ("a", "1"));
        var keys = classic.Keys(id);
        var db = _redis.GetDatabase();
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();

        await db.KeyExpireAsync(keys[1], TimeSpan.FromSeconds(100));
        await db.KeyExpireAsync(keys[2], TimeSpan.FromSeconds(100));
        var loaded = await store.GetSharedAsync(id, default);
        Assert.Equal(TimeSpan.FromMinutes(20), loaded.Data!.Timeout);
        var (data, timeout) = await classic.TtlsAsync(id);
        Assert.InRange(data, 1190, 1200);
        Assert.InRange(timeout, 1190, 1200);

        var taken = await store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(new Dictionary<string, byte[]>(), [], TimeSpan.FromMinutes(7), false), default));
        await db.KeyExpireAsync(keys[1], TimeSpan.FromSeconds(100));
        await db.KeyExpireAsync(keys[2], TimeSpan.FromSeconds(100));
        var request = await classic.BeginReadOnlyAsync(id);
        Assert.Equal(420, request.TimeoutSeconds);
        (data, timeout) = await classic.TtlsAsync(id);
        Assert.InRange(data, 410, 420);
        Assert.InRange(timeout, 410, 420);

        await store.KeepAliveAsync(id, default);
        Assert.Equal(TimeSpan.FromMinutes(7), (await store.GetSharedAsync(id, default)).Data!.Timeout);
    }

    private static async Task Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(5);
        }
    }
}
