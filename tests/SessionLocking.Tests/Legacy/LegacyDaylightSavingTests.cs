using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// Lock values are local-time ticks (the provider's <c>DateTime.Now.Ticks</c>): in a zone with daylight saving time the
/// local clock jumps an hour at each switch, and a lock's age must still come out right, on both sides. The application's
/// clock is a manual <see cref="TimeProvider"/> in Europe/Berlin, stepped across 2026-03-29 01:00Z (clocks go forward,
/// 02:00 CET becomes 03:00 CEST) and 2026-10-25 01:00Z (clocks go back, 03:00 CEST becomes 02:00 CET).
/// </summary>
public sealed class LegacyDaylightSavingTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(110);
    private static readonly DateTimeOffset ClocksGoForward = new(2026, 3, 29, 1, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset ClocksGoBack = new(2026, 10, 25, 1, 0, 0, TimeSpan.Zero);

    private readonly string _application = "dst-" + Guid.NewGuid().ToString("N")[..8];
    private readonly ManualTimeProvider _time = new();
    private ConnectionMultiplexer _redis = null!;

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    /// <summary>What a classic server in Berlin writes as its lock value at <paramref name="utc"/>: <c>DateTime.Now.Ticks</c>.</summary>
    private static long ClassicValue(DateTimeOffset utc) => TimeZoneInfo.ConvertTimeFromUtc(utc.UtcDateTime, Berlin).Ticks;

    /// <summary>The classic module's age of a lock value: its own local now minus the value.</summary>
    private static TimeSpan ClassicAge(long value, DateTimeOffset utcNow) => TimeSpan.FromTicks(ClassicValue(utcNow) - value);

    /// <summary>Our lock values carry 100 µs of random digits (they are unique per acquisition).</summary>
    private static void AssertAbout(TimeSpan expected, TimeSpan actual) =>
        Assert.InRange(actual, expected - TimeSpan.FromMilliseconds(0.1), expected + TimeSpan.FromMilliseconds(0.1));

    private void SetClock(DateTimeOffset utc) => _time.Advance(utc - _time.GetUtcNow());

    private string LockKey(string id) => "{" + _application + "_" + id + "}_WriteLock";

    /// <summary>A classic server's GetItemExclusive: SETNX of its local ticks, EXPIRE of the execution timeout (real time).</summary>
    private async Task<long> ClassicLockAsync(string id)
    {
        var value = ClassicValue(_time.GetUtcNow());
        var tag = "{" + _application + "_" + id + "}";
        await _redis.GetDatabase().StringSetAsync(tag + "_SessionStateItemCollection", new byte[] { 0, 0, 0, 0 }, TimeSpan.FromMinutes(20));
        await _redis.GetDatabase().StringSetAsync(LockKey(id), value.ToString(CultureInfo.InvariantCulture), ExecutionTimeout);
        return value;
    }

    private ServiceProvider Services()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(_time);
        services.AddLockedSession().AddRedisSessionStateProviderStore(Configure);
        return services.BuildServiceProvider();
    }

    private void Configure(RedisSessionStateProviderStoreOptions o)
    {
        o.Configuration = redis.Configuration;
        o.ApplicationName = _application;
        o.LockTimeZone = Berlin;
    }

    [Fact]
    public async Task A_classic_lock_taken_30_s_before_the_clocks_go_forward_is_30_s_old_here_30_s_later()
    {
        await using var services = Services();
        var store = services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        SetClock(ClocksGoForward - TimeSpan.FromSeconds(30));
        var value = await ClassicLockAsync(id);

        _time.Advance(TimeSpan.FromSeconds(30));
        var exclusive = await store.GetExclusiveAsync(id, ExecutionTimeout, true, default);
        var shared = await store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Locked, exclusive.Status);
        Assert.Equal(value, exclusive.LockId.Token);
        Assert.Equal(TimeSpan.FromSeconds(30), exclusive.LockAge);
        Assert.Equal(TimeSpan.FromSeconds(30), shared.LockAge);
    }

    [Fact]
    public async Task Our_lock_taken_30_s_before_the_clocks_go_forward_is_30_s_old_for_our_other_servers_and_young_for_classic_ones()
    {
        await using var first = Services();
        await using var second = Services();
        var id = SessionIds.Create();
        SetClock(ClocksGoForward - TimeSpan.FromSeconds(30));
        var ours = await first.GetRequiredService<ISessionStateStore>().GetExclusiveAsync(id, ExecutionTimeout, true, default);
        Assert.True(ours.HasLock);

        _time.Advance(TimeSpan.FromSeconds(30));
        var seen = await second.GetRequiredService<ISessionStateStore>().GetExclusiveAsync(id, ExecutionTimeout, true, default);

        Assert.Equal(SessionStoreStatus.Locked, seen.Status);
        AssertAbout(TimeSpan.FromSeconds(30), seen.LockAge);

        // A classic server in Berlin computes its age as its local now minus the value: it must not see an old lock.
        var value = long.Parse((string)(await _redis.GetDatabase().StringGetAsync(LockKey(id)))!, CultureInfo.InvariantCulture);
        Assert.InRange(ClassicAge(value, _time.GetUtcNow()), TimeSpan.MinValue, TimeSpan.FromSeconds(30));
        Assert.True(await first.GetRequiredService<ISessionStateStore>().ReleaseAsync(id, ours.LockId, default));
    }

    [Fact]
    public async Task Across_the_clocks_going_back_ages_keep_counting_and_a_lock_past_the_execution_timeout_is_force_released()
    {
        await using var services = Services();
        await using var other = Services();
        var store = services.GetRequiredService<ISessionStateStore>();
        var theirs = SessionIds.Create();
        var ours = SessionIds.Create();
        SetClock(ClocksGoBack - TimeSpan.FromSeconds(30));
        await ClassicLockAsync(theirs);
        var taken = await other.GetRequiredService<ISessionStateStore>().GetExclusiveAsync(ours, ExecutionTimeout, true, default);

        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(60), (await store.GetSharedAsync(theirs, default)).LockAge);
        AssertAbout(TimeSpan.FromSeconds(60), (await store.GetSharedAsync(ours, default)).LockAge);

        _time.Advance(TimeSpan.FromSeconds(60));
        var stale = await store.GetExclusiveAsync(theirs, ExecutionTimeout, true, default);
        var ourStale = await store.GetExclusiveAsync(ours, ExecutionTimeout, true, default);

        Assert.Equal(TimeSpan.FromSeconds(120), stale.LockAge);
        AssertAbout(TimeSpan.FromSeconds(120), ourStale.LockAge);
        Assert.True(await store.ForceReleaseAsync(theirs, stale.LockId, default));
        Assert.True(await store.ForceReleaseAsync(ours, ourStale.LockId, default));
        var next = await store.GetExclusiveAsync(theirs, ExecutionTimeout, true, default);
        Assert.True(next.HasLock);
        Assert.NotEqual(SessionStoreStatus.Locked, next.Status);
        Assert.True(await store.ReleaseAsync(theirs, next.LockId, default));
        Assert.False(await other.GetRequiredService<ISessionStateStore>().ReleaseAsync(ours, taken.LockId, default));
    }

    [Fact]
    public async Task A_request_behind_a_classic_lock_taken_30_s_before_the_clocks_go_forward_waits_instead_of_breaking_in()
    {
        SetClock(ClocksGoForward - TimeSpan.FromSeconds(30));
        await using var host = await HostAsync();
        using var client = host.CreateClient();
        var id = SessionIds.Create();
        client.SessionId = id;
        var value = await ClassicLockAsync(id);
        _time.Advance(TimeSpan.FromSeconds(30));

        var waiter = await StartWaitingAsync(host, id, () => client.PostAsync("/set?key=a&value=new"));
        await Task.Delay(200);
        Assert.False(waiter.IsCompleted, "the request broke into a lock that is 30 s old");
        Assert.Equal(value.ToString(CultureInfo.InvariantCulture), (string?)await _redis.GetDatabase().StringGetAsync(LockKey(id)));

        // The classic holder ends; the waiter gets the session at its next poll.
        Assert.True(await _redis.GetDatabase().KeyDeleteAsync(LockKey(id)));
        _time.Advance(TimeSpan.FromMilliseconds(500));
        using var response = await waiter.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_request_behind_a_classic_lock_past_the_execution_timeout_across_the_clocks_going_back_force_releases_it()
    {
        SetClock(ClocksGoBack - TimeSpan.FromSeconds(30));
        await using var host = await HostAsync();
        using var client = host.CreateClient();
        var id = SessionIds.Create();
        client.SessionId = id;
        long forced = 0;
        using var listener = host.ListenToCounter("sessionlocking.lock.forced_releases", n => Interlocked.Add(ref forced, n));
        await ClassicLockAsync(id);
        _time.Advance(ExecutionTimeout + TimeSpan.FromSeconds(10));

        using var response = await client.PostAsync("/set?key=a&value=new").WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, Interlocked.Read(ref forced));
    }

    private Task<TestHost> HostAsync() =>
        TestHost.StartAsync(
            o =>
            {
                o.RegenerateUnknownSessionIds = false;
                o.ExecutionTimeout = ExecutionTimeout;
            },
            b => b.AddRedisSessionStateProviderStore(Configure),
            services => services.AddSingleton<TimeProvider>(_time));

    private async Task<Task<HttpResponseMessage>> StartWaitingAsync(TestHost host, string id, Func<Task<HttpResponseMessage>> send)
    {
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var timersBefore = _time.PendingTimers;
        var request = send();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (coordinator.WaitingCount(id) == 0 || _time.PendingTimers <= timersBefore)
        {
            Assert.True(DateTime.UtcNow < deadline, "the request did not start waiting");
            Assert.False(request.IsCompleted, "the request did not wait: it broke into the lock");
            await Task.Delay(5);
        }

        return request;
    }
}
