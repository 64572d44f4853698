using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>Forged cookies and bad values: a clear error or a fresh session, nothing lost, no key from an unvalidated id.</summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    private const string CookieName = "ASP.NET_SessionId";

    private static Task<TestHost> StartRecordingAsync(RecordingStore[] holder, Action<LockedSessionOptions>? options = null) =>
        TestHost.StartAsync(options, configureStore: b => b.Services.AddSingleton<ISessionStateStore>(sp =>
            holder[0] = new RecordingStore(new InMemorySessionStateStore(TimeProvider.System))));

    [Fact]
    public async Task Ten_thousand_forged_cookies_each_get_a_normal_response_and_a_fresh_session()
    {
        var store = new RecordingStore[1];
        await using var host = await StartRecordingAsync(store);
        var cases = ForgedCookies.Generate(20261121).ToArray();
        Assert.True(cases.Length >= 10_000, $"only {cases.Length} cases");
        var outcome = await ForgedCookies.SendAllAsync(host.Address, cases);
        var rejectedByHttp = outcome.RefusedByHttp;

        output.WriteLine($"{cases.Length} forged cookies: {cases.Length - rejectedByHttp} got a fresh session, {rejectedByHttp} refused by Kestrel (400) for control or non-ASCII bytes; {store[0].Calls} store calls, {store[0].InvalidIds.Count} with an invalid id.");
        Assert.Empty(outcome.Problems.Take(10));
        Assert.Empty(store[0].InvalidIds.Take(10));
        Assert.True(store[0].Calls >= cases.Length - rejectedByHttp);
        Assert.True(cases.Length - rejectedByHttp >= 9_000, $"{rejectedByHttp} of {cases.Length} were refused by HTTP itself");
    }

    [Fact]
    public async Task A_protected_cookie_round_trips_and_a_forged_one_is_no_id()
    {
        await using var host = await TestHost.StartAsync(o => o.ProtectCookieValue = true);
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        Assert.DoesNotMatch("^[a-z0-5]{24}$", client.SessionId);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        var plainId = (await client.GetJsonAsync<TestServer.TestEndpoints.SessionInfo>("/info")).Id;
        using var forger = host.CreateClient();
        forger.SessionId = plainId;
        Assert.Null(await forger.GetJsonAsync<string>("/get?key=a"));
        forger.SessionId = client.SessionId![..^4] + "AAAA";
        Assert.Null(await forger.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task A_value_over_the_limit_fails_naming_the_key_and_nothing_of_the_request_is_written()
    {
        await using var host = await TestHost.StartAsync(o => o.MaxValueBytes = 1000, configureApp: app =>
            app.MapPost("/big", (HttpContext c) =>
            {
                var session = c.GetSessionState();
                session["small"] = "changed";
                try
                {
                    session["huge"] = new string('x', 5000);
                }
                catch (SessionSerializationException ex)
                {
                    return Results.Problem(ex.Message, statusCode: 413);
                }

                return Results.Ok();
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=small&value=original")).Dispose();

        using var response = await client.PostAsync("/big");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("'huge'", await response.Content.ReadAsStringAsync());
        Assert.Null(await client.GetJsonAsync<string>("/get?key=huge"));
    }

    [Fact]
    public async Task An_unserializable_value_fails_the_request_naming_key_and_type_and_nothing_is_written()
    {
        await using var host = await TestHost.StartAsync(configureApp: app =>
            app.MapPost("/cycle", (HttpContext c) =>
            {
                var session = c.GetSessionState();
                session["small"] = "changed";
                var node = new Node();
                node.Next = node;
                session.Set("loop", node);
                return Results.Ok();
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=small&value=original")).Dispose();

        using var response = await client.PostAsync("/cycle");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("original", await client.GetJsonAsync<string>("/get?key=small"));
    }

    [Fact]
    public async Task A_session_over_the_total_limit_fails_and_nothing_is_written()
    {
        await using var host = await TestHost.StartAsync(o => o.MaxSessionBytes = 2000);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=" + new string('x', 900))).Dispose();

        using var response = await client.PostAsync("/set?key=b&value=" + new string('y', 1500));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Null(await client.GetJsonAsync<string>("/get?key=b"));
        Assert.Equal(900, (await client.GetJsonAsync<string>("/get?key=a")).Length);
        Assert.True(TestLog.Has("WriteBackFailed"));
    }

    [Fact]
    public async Task Corrupt_stored_data_gives_a_clear_error_for_that_key_and_leaves_the_rest_usable()
    {
        await using var host = await TestHost.StartAsync(configureApp: app =>
            app.MapGet("/read", (HttpContext c, string key) =>
            {
                try
                {
                    return Results.Ok(c.GetSessionState()[key]?.ToString());
                }
                catch (SessionSerializationException ex)
                {
                    return Results.Problem(ex.Message, statusCode: 500);
                }
            }).WithSessionState(SessionStateBehavior.ReadOnly));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=good&value=fine")).Dispose();
        (await client.PostAsync("/set?key=bad&value=soon-corrupt")).Dispose();
        var store = host.Services.GetRequiredService<ISessionStateStore>();
        var id = (await client.GetJsonAsync<TestServer.TestEndpoints.SessionInfo>("/info")).Id;
        var locked = await store.GetExclusiveAsync(id, TimeSpan.FromMinutes(1), false, default);
        Assert.True(await store.WriteAndReleaseAsync(id, locked.LockId,
            new SessionChanges(new Dictionary<string, byte[]> { ["bad"] = new byte[] { 1, 0, 200, 1, 2 } }, Array.Empty<string>(), TimeSpan.FromMinutes(20), false), default));

        using var bad = await client.GetAsync("/read?key=bad");
        var problem = await bad.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, bad.StatusCode);
        Assert.Contains("'bad'", problem);
        Assert.Equal("fine", await client.GetJsonAsync<string>("/read?key=good"));
    }

    private sealed class Node
    {
        public Node? Next { get; set; }
    }

}
