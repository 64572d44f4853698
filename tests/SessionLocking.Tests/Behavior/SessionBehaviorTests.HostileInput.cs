using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Forged cookies and bad values, on every store: a clear error or a fresh session, nothing lost, nothing of a failed
/// request written, no lock left behind, no key from an unvalidated id. What only a store can see (the Redis store's
/// keys and every command it sent) its subclass checks through the hooks below.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    /// <summary>
    /// Prepares what the store checks of the forged-cookie run (and may change how the next host is made, e.g. a longer
    /// store timeout under the load); by default nothing beyond the recording store every store gets.
    /// </summary>
    protected virtual Task<ForgedCookieWatch> WatchForgedCookiesAsync() => Task.FromResult(new ForgedCookieWatch());

    /// <summary>Fails unless no lock is left on the session: the store hands its lock to the next caller at once.</summary>
    protected virtual async Task AssertNoLockLeftAsync(TestHost host, string sessionId)
    {
        var store = host.Services.GetRequiredService<ISessionStateStore>();
        var next = await store.GetExclusiveAsync(sessionId, TimeSpan.FromMinutes(1), false, default);
        Assert.NotEqual(SessionStoreStatus.Locked, next.Status);
        if (next.HasLock)
        {
            Assert.True(await store.ReleaseAsync(sessionId, next.LockId, default));
        }
    }

    /// <summary>The session's items as the store holds them (name → stored bytes, as text), read without a lock.</summary>
    protected virtual async Task<IReadOnlyDictionary<string, string>> StoredItemsAsync(TestHost host, string sessionId)
    {
        var stored = await host.Services.GetRequiredService<ISessionStateStore>().GetSharedAsync(sessionId, default);
        return stored.Data?.Items.ToDictionary(p => p.Key, p => Convert.ToHexString(p.Value), StringComparer.Ordinal) ?? [];
    }

    /// <summary>Stores bytes that are no serialized value under <paramref name="key"/> (by default through the store itself).</summary>
    protected virtual async Task CorruptItemAsync(TestHost host, string sessionId, string key)
    {
        var store = host.Services.GetRequiredService<ISessionStateStore>();
        var locked = await store.GetExclusiveAsync(sessionId, TimeSpan.FromMinutes(1), false, default);
        Assert.True(await store.WriteAndReleaseAsync(sessionId, locked.LockId,
            new SessionChanges(new Dictionary<string, byte[]> { [key] = [1, 0, 200, 1, 2] }, Array.Empty<string>(), TimeSpan.FromMinutes(20), false), default));
    }

    [Fact]
    public async Task Ten_thousand_forged_cookies_each_get_a_normal_response_and_a_fresh_session()
    {
        await using var watch = await WatchForgedCookiesAsync();
        RecordingStore? store = null;
        await using var host = await StartAsync(services: s => DecorateStore(s, inner => store = new RecordingStore(inner)));
        var cases = ForgedCookies.Generate(watch.Seed, watch.Aimed, watch.ForeignId).ToArray();
        Assert.True(cases.Length >= 10_000, $"only {cases.Length} cases");
        var outcome = await ForgedCookies.SendAllAsync(host.Address, cases);
        var rejectedByHttp = outcome.RefusedByHttp;

        Assert.NotNull(store);
        Output.WriteLine($"{cases.Length} forged cookies: {cases.Length - rejectedByHttp} got a fresh session, {rejectedByHttp} refused by Kestrel (400) for control or non-ASCII bytes; {store.Calls} store calls, {store.InvalidIds.Count} with an invalid id.");
        Assert.Empty(outcome.Problems.Take(10));
        Assert.Empty(store.InvalidIds.Take(10));
        Assert.True(store.Calls >= cases.Length - rejectedByHttp);
        Assert.True(cases.Length - rejectedByHttp >= 9_000, $"{rejectedByHttp} of {cases.Length} were refused by HTTP itself");
        await watch.CheckAsync(outcome, Output);
    }

    [Fact]
    public async Task A_protected_cookie_round_trips_and_a_forged_one_is_no_id()
    {
        await using var host = await StartAsync(o => o.ProtectCookieValue = true);
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        Assert.DoesNotMatch("^[a-z0-5]{24}$", client.SessionId);
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        var plainId = (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Id;
        using var forger = host.CreateClient();
        forger.SessionId = plainId;
        Assert.Null(await forger.GetJsonAsync<string>("/get?key=a"));
        forger.SessionId = client.SessionId![..^4] + "AAAA";
        Assert.Null(await forger.GetJsonAsync<string>("/get?key=a"));
    }

    [Fact]
    public async Task A_value_over_the_limit_fails_naming_the_key_and_nothing_of_the_request_is_written()
    {
        await using var host = await StartAsync(o => o.MaxValueBytes = 1000, app: app =>
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
    public async Task An_unserializable_value_fails_the_request_writes_nothing_and_releases_the_lock_at_once()
    {
        await using var host = await StartAsync(app: app =>
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
        await AssertNoLockLeftAsync(host, client.SessionId!);
        Assert.Equal("original", await client.GetJsonAsync<string>("/get?key=small"));
        var stored = await StoredItemsAsync(host, client.SessionId!);
        Assert.Contains("small", stored.Keys); // the read sees the session, so the next line can fail
        Assert.DoesNotContain("loop", stored.Keys);
    }

    [Fact]
    public async Task A_session_over_the_total_limit_fails_writes_nothing_and_releases_the_lock_at_once()
    {
        await using var host = await StartAsync(o => o.MaxSessionBytes = 2000);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=" + new string('x', 900))).Dispose();
        var before = await StoredItemsAsync(host, client.SessionId!);
        Assert.Contains("a", before.Keys); // the read sees the session, so the comparison below can fail

        using var response = await client.PostAsync("/set?key=b&value=" + new string('y', 1500));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(before, await StoredItemsAsync(host, client.SessionId!));
        await AssertNoLockLeftAsync(host, client.SessionId!); // released now, not after the lock's timeout
        Assert.True(TestLog.Has("WriteBackFailed"));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=b"));
        Assert.Equal(900, (await client.GetJsonAsync<string>("/get?key=a")).Length);
    }

    [Fact]
    public async Task Corrupt_stored_data_gives_a_clear_error_for_that_key_and_leaves_the_rest_usable()
    {
        await using var host = await StartAsync(app: app =>
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
        var id = (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Id;
        await CorruptItemAsync(host, id, "bad");

        using var bad = await client.GetAsync("/read?key=bad");
        var problem = await bad.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, bad.StatusCode);
        Assert.Contains("'bad'", problem);
        Assert.Equal("fine", await client.GetJsonAsync<string>("/read?key=good"));
        using var required = await client.PostAsync("/set?key=other&value=1");
        Assert.Equal(HttpStatusCode.OK, required.StatusCode); // Required still works
        await AssertNoLockLeftAsync(host, id);
    }

    /// <summary>Wraps whatever store the subclass registered, as an application would add a decorator.</summary>
    private static void DecorateStore(IServiceCollection services, Func<ISessionStateStore, ISessionStateStore> decorate)
    {
        var original = services.Last(d => d.ServiceType == typeof(ISessionStateStore));
        services.Remove(original);
        services.AddSingleton(sp => decorate(
            original.ImplementationInstance as ISessionStateStore
            ?? original.ImplementationFactory?.Invoke(sp) as ISessionStateStore
            ?? (ISessionStateStore)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!)));
    }

    private sealed class Node
    {
        public Node? Next { get; set; }
    }

    /// <summary>
    /// What a store adds to the forged-cookie run: its own seed and cookies aimed at its keys, a well-formed id of
    /// another application's session, and a check of what the store touched once every cookie was answered.
    /// </summary>
    public class ForgedCookieWatch : IAsyncDisposable
    {
        public virtual int Seed => 20261121;

        public virtual IEnumerable<string> Aimed => [];

        public virtual string? ForeignId => null;

        public virtual Task CheckAsync(ForgedCookies.Outcome outcome, ITestOutputHelper output) => Task.CompletedTask;

        public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
