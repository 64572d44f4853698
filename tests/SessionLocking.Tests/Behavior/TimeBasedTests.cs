using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Rules that depend on time (lock-age expiry, the waiter's own timeout, idle expiry, polling, keep-alive),
/// on the in-memory store with a manual clock: the clock only moves when the test advances it.
/// </summary>
public sealed class TimeBasedTests
{
    private readonly ManualTimeProvider _time = new();

    private Task<TestHost> StartAsync(Action<LockedSessionOptions>? options = null) =>
        TestHost.StartAsync(options, configureServices: services => services.AddSingleton<TimeProvider>(_time));

    [Fact]
    public async Task A_lock_held_past_the_execution_timeout_is_taken_over_and_the_old_holder_cannot_write()
    {
        await using var host = await StartAsync(o => o.PollInterval = TimeSpan.FromHours(1));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        var holder = await host.HoldLockAsync(client, "stale");

        var waiter = await StartWaiting(host, client, () => client.PostAsync("/set?key=w&value=newer"));
        _time.Advance(TimeSpan.FromSeconds(109));
        await Task.Delay(50);
        Assert.False(waiter.IsCompleted, "the waiter got the lock before the holder's lock reached the execution timeout");

        _time.Advance(TimeSpan.FromSeconds(1));
        using (var taken = await waiter.WaitAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        }

        host.Gate.Open();
        await AssertFailedVisibly(holder);
        Assert.True(TestLog.Has("WriteBackRejected"));
        Assert.Equal("newer", await client.GetJsonAsync<string>("/get?key=w"));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=held"));
    }

    /// <summary>
    /// Issue 22: a server with a shorter execution timeout force-releases the lock of a holder on another server (whose
    /// lock lives for its own, longer timeout), and its log names that holder's endpoint and how long it held the lock.
    /// </summary>
    [Fact]
    public async Task A_force_release_names_the_holders_endpoint_and_how_long_it_held_the_lock()
    {
        await using var holderServer = await StartAsync(o => o.PollInterval = TimeSpan.FromHours(1));
        await using var waiterServer = await TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromHours(1);
                o.ExecutionTimeout = TimeSpan.FromSeconds(10);
            },
            configureServices: services =>
            {
                services.AddSingleton<TimeProvider>(_time);
                services.AddSingleton(holderServer.Services.GetRequiredService<ISessionStateStore>());
            });
        using var client = holderServer.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        var holder = await holderServer.HoldLockAsync(client, "stale");
        using var other = waiterServer.CreateClient();
        other.SessionId = client.SessionId;

        var waiter = await StartWaiting(waiterServer, other, () => other.PostAsync("/set?key=w&value=newer"));
        _time.Advance(TimeSpan.FromSeconds(10));
        using (var taken = await waiter.WaitAsync(TimeSpan.FromSeconds(30)))
        {
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        }

        holderServer.Gate.Open();
        await AssertFailedVisibly(holder);
        var key = new Diagnostics.SessionKey(client.SessionId!).ToString();
        Assert.Contains(TestLog.Events, e => e.Id.Name == "LockForceReleased" && e.Message.Contains(key, StringComparison.Ordinal)
            && e.Message.Contains("was held for 10 s by /hold,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_waiter_fails_with_503_after_its_own_wait_timeout()
    {
        await using var host = await StartAsync(o =>
        {
            o.PollInterval = TimeSpan.FromHours(1);
            o.LockWaitTimeout = TimeSpan.FromSeconds(5);
        });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client, "h");

        var waiter = await StartWaiting(host, client, () => client.PostAsync("/set?key=a&value=2"));
        _time.Advance(TimeSpan.FromSeconds(5));

        using var timedOut = await waiter.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, timedOut.StatusCode);
        var body = await timedOut.Content.ReadAsStringAsync();
        Assert.Contains("Timed out waiting for the session lock", body);

        // On the store's clock the holder has held the lock exactly as long as the waiter waited (issue 22).
        Assert.EndsWith("The lock is held by /hold (for 5.0 s).", body);
        host.Gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await holder).StatusCode);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task In_classic_polling_mode_a_waiter_starts_only_at_the_next_poll()
    {
        await using var host = await StartAsync(o =>
        {
            o.UseReleaseNotifications = false;
            o.PollInterval = TimeSpan.FromMilliseconds(500);
        });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client, "h");
        var waiter = await StartWaiting(host, client, () => client.PostAsync("/set?key=a&value=2"));

        host.Gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await holder).StatusCode);
        await Task.Delay(200);
        Assert.False(waiter.IsCompleted, "without notifications the waiter must wait for its poll");

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(HttpStatusCode.OK, (await waiter.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task With_notifications_a_waiter_starts_when_the_lock_is_released_without_the_clock_moving()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client, "h");
        var waiter = await StartWaiting(host, client, () => client.PostAsync("/set?key=a&value=2"));

        host.Gate.Open();

        Assert.Equal(HttpStatusCode.OK, (await holder).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await waiter.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
    }

    [Fact]
    public async Task Sessions_expire_after_their_idle_timeout_and_every_access_slides_it()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        _time.Advance(TimeSpan.FromMinutes(19));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        _time.Advance(TimeSpan.FromMinutes(19));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));

        _time.Advance(TimeSpan.FromMinutes(20));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>
    /// Issue 17 item 6 (in-memory store): lock age and expiry follow elapsed time, not the wall clock. On 005cd90 a step
    /// of +3 h made the held lock look expired (the holder's save was rejected, its response aborted) and expired the
    /// session; a step of −3 h kept an idle session alive for three more hours.
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(-3)]
    public async Task A_wall_clock_step_neither_breaks_a_held_lock_nor_changes_when_sessions_expire(int hours)
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client, "held");

        _time.StepWallClock(TimeSpan.FromHours(hours));
        host.Gate.Open();

        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal("held", await client.GetJsonAsync<string>("/get?key=held"));

        // Steps between an access and the next one change nothing either way: 19 minutes idle keep the session, 20 end it.
        _time.StepWallClock(TimeSpan.FromHours(hours));
        _time.Advance(TimeSpan.FromMinutes(19));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        _time.StepWallClock(TimeSpan.FromHours(hours));
        _time.Advance(TimeSpan.FromMinutes(20));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task Expired_sessions_are_swept_from_memory()
    {
        await using var host = await StartAsync();
        var store = (InMemorySessionStateStore)host.Services.GetRequiredService<ISessionStateStore>();
        for (var i = 0; i < 5; i++)
        {
            using var client = host.CreateClient();
            (await client.PostAsync("/set?key=a&value=1")).Dispose();
        }

        Assert.Equal(5, store.Count);
        _time.Advance(TimeSpan.FromMinutes(21));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task A_per_session_timeout_applies_to_that_session()
    {
        await using var host = await StartAsync();
        using var shortLived = host.CreateClient();
        using var normal = host.CreateClient();
        (await shortLived.PostAsync("/timeout?minutes=1")).Dispose();
        (await shortLived.PostAsync("/set?key=a&value=1")).Dispose();
        (await normal.PostAsync("/set?key=a&value=1")).Dispose();

        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.Null(await shortLived.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal("1", await normal.GetJsonAsync<string>("/get?key=a"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Requests_without_session_state_keep_the_session_alive_unless_turned_off(bool keepAlive)
    {
        await using var host = await StartAsync(o => o.KeepAliveWithoutSession = keepAlive);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        _time.Advance(TimeSpan.FromMinutes(15));
        (await client.GetAsync("/disabled")).Dispose();
        _time.Advance(TimeSpan.FromMinutes(10));
        (await client.GetAsync("/no-such-page")).Dispose();
        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(keepAlive ? "1" : null, await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>Starts a request and returns once it is queued for the lock with its timer set.</summary>
    private async Task<Task<HttpResponseMessage>> StartWaiting(TestHost host, SessionClient client, Func<Task<HttpResponseMessage>> send)
    {
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var timersBefore = _time.PendingTimers;
        var request = send();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (coordinator.WaitingCount(client.SessionId!) == 0 || _time.PendingTimers <= timersBefore)
        {
            Assert.True(DateTime.UtcNow < deadline, "the request did not start waiting");
            Assert.False(request.IsCompleted, "the request did not wait");
            await Task.Delay(5);
        }

        return request;
    }

    /// <summary>A request whose session changes were lost must not look like a normal, complete response.</summary>
    private static async Task AssertFailedVisibly(Task<HttpResponseMessage> request)
    {
        try
        {
            using var response = await request;
            Assert.False(response.IsSuccessStatusCode, $"the stale holder got {(int)response.StatusCode}");
        }
        catch (HttpRequestException)
        {
            // The connection was aborted after the response had started: the client sees a failed request.
        }
    }
}
