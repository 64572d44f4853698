using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The classic rules (SPEC §1–§6), observed through real Kestrel and HTTP. One suite, run once per store:
/// each store's subclass says how to register it.
/// </summary>
public abstract partial class SessionBehaviorTests(ITestOutputHelper output)
{
    /// <summary>The test's output, for numbers worth reading when a run passes.</summary>
    protected ITestOutputHelper Output => output;

    /// <summary>Registers the store under test (nothing: the in-memory default).</summary>
    protected abstract void ConfigureStore(ILockedSessionBuilder builder);

    /// <summary>Every session id the store holds keys for, to prove no key is built from an unvalidated id.</summary>
    protected abstract Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host);

    protected Task<TestHost> StartAsync(
        Action<LockedSessionOptions>? options = null,
        Action<IServiceCollection>? services = null,
        Action<WebApplication>? app = null,
        Action<WebApplication>? beforeSession = null) =>
        TestHost.StartAsync(options, ConfigureStore, services, app, beforeSession);

    // ---- §3.1 and §4: new sessions, ids and the cookie ----

    [Fact]
    public async Task A_new_session_that_is_never_written_is_not_stored_and_gets_no_cookie()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        using var nothing = await client.GetAsync("/nothing");
        using var info = await client.GetAsync("/info");

        Assert.Equal(HttpStatusCode.OK, nothing.StatusCode);
        Assert.Null(SessionClient.SessionCookieOf(nothing));
        Assert.Null(SessionClient.SessionCookieOf(info));
        Assert.True((await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).IsNew);
    }

    [Fact]
    public async Task Writing_a_new_session_sends_a_classic_cookie_with_a_valid_id()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        using var response = await client.PostAsync("/set?key=name&value=Ada");

        var cookie = SessionClient.SessionCookieOf(response);
        Assert.NotNull(cookie);
        Assert.Matches("^ASP.NET_SessionId=[a-z0-5]{24}; ", cookie);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("expires", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Ada", await client.GetJsonAsync<string>("/get?key=name"));
    }

    [Fact]
    public async Task An_existing_session_keeps_its_id_and_gets_no_new_cookie()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId;

        using var again = await client.PostAsync("/set?key=a&value=2");

        Assert.Null(SessionClient.SessionCookieOf(again));
        Assert.Equal(id, client.SessionId);
        var info = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");
        Assert.False(info.IsNew);
        Assert.Equal(id, info.Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWX")]
    [InlineData("abcdefghijklmnopqrstuvw6")]
    [InlineData("abcdefghijklmnopqrstuvwxy")]
    [InlineData("abcdefghijk/../../etc/pwd")]
    [InlineData("{abcdefghijklmnopqrstuv}")]
    [InlineData("abcdefghijklmnopqrstuv%00")]
    public async Task A_malformed_cookie_is_treated_as_no_id(string forged)
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        client.SessionId = forged;

        using var response = await client.PostAsync("/set?key=a&value=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(forged, client.SessionId);
        Assert.Matches("^[a-z0-5]{24}$", client.SessionId);
    }

    [Fact]
    public async Task Random_and_oversized_cookies_get_a_normal_response_and_a_fresh_session()
    {
        await using var host = await StartAsync();
        var random = new Random(12345);
        for (var i = 0; i < 40; i++)
        {
            using var client = host.CreateClient();
            var length = i == 0 ? 8000 : random.Next(1, 64);
            var forged = new string(Enumerable.Range(0, length).Select(_ => (char)random.Next(0x21, 0x7f)).Where(c => c is not (';' or ',' or '"' or '\\')).ToArray());
            client.SessionId = forged;

            using var response = await client.PostAsync("/set?key=a&value=1");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Matches("^[a-z0-5]{24}$", client.SessionId);
        }

        var stored = await StoredSessionIdsAsync(host);
        Assert.Equal(40, stored.Count);
        Assert.All(stored, id => Assert.Matches("^[a-z0-5]{24}$", id));
    }

    [Fact]
    public async Task An_unknown_well_formed_id_gets_a_fresh_id_by_default()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        const string unknown = "abcdefghijklmnopqrstuvwx";
        client.SessionId = unknown;

        using var response = await client.PostAsync("/set?key=a&value=1");

        Assert.NotNull(SessionClient.SessionCookieOf(response));
        Assert.NotEqual(unknown, client.SessionId);

        // Nothing was stored under the unknown id: it is still unknown.
        using var other = host.CreateClient();
        other.SessionId = unknown;
        Assert.Null(await other.GetJsonAsync<string>("/get?key=a"));
        Assert.True((await other.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).IsNew);
    }

    [Fact]
    public async Task The_classic_reuse_of_unknown_ids_can_be_restored()
    {
        await using var host = await StartAsync(o => o.RegenerateUnknownSessionIds = false);
        using var client = host.CreateClient();
        var unknown = "zyxwvutsrqponmlkjihgfedc";
        client.SessionId = unknown;

        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        Assert.Equal(unknown, client.SessionId);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    // ---- §1: behaviours ----

    [Fact]
    public async Task Disabled_endpoints_have_no_session_and_say_so_clearly()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        Assert.Equal("ok", await client.GetJsonAsync<string>("/disabled"));
        var classic = await client.GetJsonAsync<string>("/disabled/touch");
        var core = await client.GetJsonAsync<string>("/disabled/core-session");

        Assert.Contains("Session state is disabled for this endpoint", classic);
        Assert.Contains("Session state is disabled for this endpoint", core);
        Assert.Null(client.SessionId);
    }

    [Fact]
    public async Task Requests_without_an_endpoint_get_no_session()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        using var response = await client.GetAsync("/no-such-page");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(SessionClient.SessionCookieOf(response));
    }

    [Fact]
    public async Task Read_only_changes_are_not_saved_and_are_logged()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=before")).Dispose();

        using var response = await client.PostAsync("/readonly-write?key=a&value=after");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("before", await client.GetJsonAsync<string>("/get-required?key=a"));
        Assert.True(TestLog.Has("ReadOnlyChangesDiscarded"));
    }

    [Fact]
    public async Task Read_only_changes_can_throw_instead()
    {
        await using var host = await StartAsync(o => o.ThrowOnReadOnlyWrite = true);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=before")).Dispose();

        using var response = await client.PostAsync("/readonly-write?key=a&value=after");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("before", await client.GetJsonAsync<string>("/get-required?key=a"));
    }

    [Fact]
    public async Task The_runtime_override_wins_over_endpoint_metadata()
    {
        await using var host = await StartAsync(beforeSession: app => app.Use((context, next) =>
        {
            if (context.Request.Query.ContainsKey("readonly"))
            {
                context.SetSessionStateBehavior(SessionStateBehavior.ReadOnly);
            }

            return next(context);
        }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        (await client.PostAsync("/set?key=a&value=2&readonly=1")).Dispose();

        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task The_runtime_override_after_the_session_was_acquired_throws()
    {
        await using var host = await StartAsync(app: app => app.MapPost("/late-override", (HttpContext c) =>
        {
            try
            {
                c.SetSessionStateBehavior(SessionStateBehavior.ReadOnly);
                return Results.Ok("no error");
            }
            catch (InvalidOperationException ex)
            {
                return Results.Ok(ex.Message);
            }
        }));
        using var client = host.CreateClient();

        Assert.Contains("must be called before UseLockedSession()", await client.PostJsonAsync<string>("/late-override"));
    }

    [Fact]
    public async Task An_attribute_on_the_handler_wins_over_WithSessionState()
    {
        await using var host = await StartAsync(app: app =>
        {
            app.MapPost("/attribute-readonly", [SessionState(SessionStateBehavior.ReadOnly)] (HttpContext c) => c.GetSessionState().IsReadOnly)
                .WithSessionState(SessionStateBehavior.Required);
            var group = app.MapGroup("/group").WithSessionState(SessionStateBehavior.ReadOnly);
            group.MapGet("/plain", (HttpContext c) => c.GetSessionState().IsReadOnly);
            group.MapGet("/required", [SessionState(SessionStateBehavior.Required)] (HttpContext c) => c.GetSessionState().IsReadOnly);
        });
        using var client = host.CreateClient();

        Assert.True(await client.PostJsonAsync<bool>("/attribute-readonly"));
        Assert.True(await client.GetJsonAsync<bool>("/group/plain"));
        Assert.False(await client.GetJsonAsync<bool>("/group/required"));
    }

    [Fact]
    public async Task The_configured_default_applies_to_endpoints_that_say_nothing()
    {
        await using var host = await StartAsync(o => o.DefaultBehavior = SessionStateBehavior.ReadOnly);
        using var client = host.CreateClient();

        var info = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");

        Assert.True(info.IsReadOnly);
    }

    // ---- §3: release rules ----

    [Fact]
    public async Task An_endpoint_that_throws_releases_without_saving()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var failed = await client.PostAsync("/fail");

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Null(await client.GetJsonAsync<string>("/get-required?key=fail"));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task Abandon_removes_the_session_and_the_next_request_starts_a_new_one()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var abandoned = client.SessionId;

        using (var abandon = await client.PostAsync("/abandon"))
        {
            Assert.Contains("expires=Thu, 01 Jan 1970", SessionClient.SessionCookieOf(abandon));
        }

        using var stale = host.CreateClient();
        stale.SessionId = abandoned;
        Assert.Null(await stale.GetJsonAsync<string>("/get?key=a"));
        var info = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");
        Assert.True(info.IsNew);
        Assert.NotEqual(abandoned, info.Id);
        Assert.Empty(info.Keys);
    }

    [Fact]
    public async Task RegenerateId_moves_the_data_to_a_new_id_and_retires_the_old_one()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=kept")).Dispose();
        var oldId = client.SessionId!;

        var ids = await client.PostJsonAsync<string[]>("/regenerate");

        Assert.Equal(oldId, ids[0]);
        Assert.Equal(ids[1], client.SessionId);
        Assert.NotEqual(oldId, client.SessionId);
        Assert.Equal("kept", await client.GetJsonAsync<string>("/get?key=a"));
        using var stale = host.CreateClient();
        stale.SessionId = oldId;
        Assert.Null(await stale.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task A_changed_timeout_is_saved_with_the_session()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        Assert.Equal(20, (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Timeout);

        (await client.PostAsync("/timeout?minutes=5")).Dispose();

        Assert.Equal(5, (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Timeout);
    }

    [Fact]
    public async Task Changing_only_the_timeout_of_a_new_session_stores_it()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        using var response = await client.PostAsync("/timeout?minutes=7");

        Assert.NotNull(SessionClient.SessionCookieOf(response));
        Assert.Equal(7, (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Timeout);
    }

    [Fact]
    public async Task Session_start_runs_once_and_its_session_is_stored_even_if_empty()
    {
        var starts = 0;
        await using var host = await StartAsync(o => o.Events.OnSessionStart = context =>
        {
            Interlocked.Increment(ref starts);
            context.Session["startedAt"] = "start";
            return Task.CompletedTask;
        });
        using var client = host.CreateClient();

        using var first = await client.GetAsync("/nothing");
        (await client.GetAsync("/nothing")).Dispose();

        Assert.NotNull(SessionClient.SessionCookieOf(first));
        Assert.Equal(1, starts);
        Assert.Equal("start", await client.GetJsonAsync<string>("/get?key=startedAt"));
    }

    // ---- §6: the two APIs over the same items ----

    [Fact]
    public async Task Classic_and_ASP_NET_Core_APIs_see_the_same_items_case_insensitively()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=Name&value=classic")).Dispose();
        Assert.Equal("classic", await client.GetJsonAsync<string>("/core/get?key=name"));

        (await client.PostAsync("/core/set?key=City&value=core")).Dispose();
        Assert.Equal("core", await client.GetJsonAsync<string>("/get-string?key=CITY"));
        var info = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");
        Assert.Equal(new[] { "Name", "City" }, info.Keys);
    }

    // ---- §2: locking ----

    [Fact]
    public async Task Concurrent_increments_of_one_session_are_never_lost()
    {
        await using var host = await StartAsync(o => o.RequestQueueLimitPerSession = 1000);
        for (var round = 0; round < 3; round++)
        {
            using var client = host.CreateClient();
            Assert.Equal(1, await client.PostJsonAsync<int>("/increment"));

            var results = await Task.WhenAll(Enumerable.Range(0, 199).Select(_ => client.PostJsonAsync<int>("/increment")));

            Assert.Equal(200, await client.GetJsonAsync<int>("/counter"));
            Assert.Equal(Enumerable.Range(2, 199), results.Order());
        }

        Assert.Equal(0, host.Tracker.Violations);
    }

    [Fact]
    public async Task Required_requests_of_one_session_never_overlap_and_read_only_ones_do()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        for (var round = 0; round < 3; round++)
        {
            var writers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=60")));
            var ordered = writers.OrderBy(w => w.Start).ToArray();
            for (var i = 1; i < ordered.Length; i++)
            {
                Assert.True(ordered[i].Start >= ordered[i - 1].End, $"writers overlapped: {ordered[i - 1]} and {ordered[i]}");
            }

            var readers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-readonly?ms=300")));
            Assert.True(readers.Max(r => r.Start) < readers.Min(r => r.End), "read-only requests of one session did not overlap");
        }

        Assert.Equal(0, host.Tracker.Violations);
        Assert.True(host.Tracker.MaxReadersTogether >= 2);
    }

    [Fact]
    public async Task A_reader_waits_for_a_running_writer()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;

        var writer = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=400");
        await Until(() => host.Tracker.WritersInside(id) == 1);
        var reader = await client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-readonly?ms=1");

        Assert.True(reader.Start >= (await writer).End, "the reader ran while the writer held the lock");
    }

    [Fact]
    public async Task A_writer_does_not_wait_for_running_readers()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;

        var reader = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-readonly?ms=1500");
        await Until(() => host.Tracker.ReadersInside(id) == 1);
        var writer = await client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=1");

        Assert.True(writer.End < (await reader).End, "the writer waited for the reader");
    }

    [Fact]
    public async Task A_waiter_wakes_when_the_lock_is_released_not_at_the_next_poll()
    {
        // A poll interval far longer than the test: only the release signal can let the waiter in quickly.
        await using var host = await StartAsync(o => o.PollInterval = TimeSpan.FromMinutes(5));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;

        var holder = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=300");
        await Until(() => host.Tracker.WritersInside(id) == 1);
        var waiter = client.GetJsonAsync<TestEndpoints.SlowResult>("/slow-required?ms=1");

        var finished = await Task.WhenAny(waiter, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.Same(waiter, finished);
        Assert.True((await waiter).Start >= (await holder).End);
    }

    [Fact]
    public async Task The_request_over_the_queue_limit_fails_at_once_with_429()
    {
        await using var host = await StartAsync(o => o.RequestQueueLimitPerSession = 2);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var holder = await host.HoldLockAsync(client, "h");
        var waiters = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 2; i++)
        {
            waiters.Add(client.PostAsync("/set?key=w&value=" + i));
            await Until(() => coordinator.WaitingCount(id) == i + 1);
        }

        using var rejected = await client.PostAsync("/set?key=w&value=over");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        var body = await rejected.Content.ReadAsStringAsync();
        Assert.StartsWith("The request queue limit of the session is exceeded.", body);

        // The holder on this server is named by its own endpoint, whatever the store can record.
        Assert.Contains("The lock is held by /hold (for ", body);
        Assert.Contains(TestLog.Events, e => e.Id.Name == "QueueLimitExceeded" && e.Message.Contains(new Diagnostics.SessionKey(id).ToString(), StringComparison.Ordinal)
            && e.Message.Contains("held by /hold", StringComparison.Ordinal));
        host.Gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await holder).StatusCode);
        foreach (var waiter in waiters)
        {
            Assert.Equal(HttpStatusCode.OK, (await waiter).StatusCode);
        }
    }

    [Fact]
    public async Task A_client_that_disconnects_while_waiting_leaves_the_queue_at_once()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var holder = await host.HoldLockAsync(client, "h");

        using var leaving = new CancellationTokenSource();
        var waiter = client.PostAsync("/set?key=a&value=never", leaving.Token);
        await Until(() => coordinator.WaitingCount(id) == 1);
        await leaving.CancelAsync();

        await Until(() => coordinator.WaitingCount(id) == 0);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        host.Gate.Open();
        Assert.Equal(HttpStatusCode.OK, (await holder).StatusCode);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal("h", await client.GetJsonAsync<string>("/get?key=held"));
    }

    /// <summary>Waits for a condition the test cannot await directly (a request reaching the server).</summary>
    protected static async Task Until(Func<bool> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true in time.");
            }

            await Task.Delay(5);
        }
    }
}

/// <summary>The behaviour suite on the in-memory store (classic InProc).</summary>
public sealed class InMemorySessionBehaviorTests(ITestOutputHelper output) : SessionBehaviorTests(output)
{
    protected override void ConfigureStore(ILockedSessionBuilder builder)
    {
    }

    protected override Task<IReadOnlyCollection<string>> StoredSessionIdsAsync(TestHost host) =>
        Task.FromResult(((Stores.InMemorySessionStateStore)host.Services.GetRequiredService<ISessionStateStore>()).SessionIds);

    /// <summary>Two application versions in one process share the first one's memory, as two servers share Redis.</summary>
    protected override void ShareStore(ISessionStateStore first, IServiceCollection services) => services.AddSingleton(first);
}
