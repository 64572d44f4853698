using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The <c>Server-Timing</c> header (issue 22): <c>session-wait</c> and <c>session-load</c> on every request that
/// loaded a session, <c>session-save</c> when the save ended before the response started.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    [Fact]
    public async Task Server_Timing_gives_the_wait_the_load_and_a_save_that_ended_before_the_response_started()
    {
        await using var host = await StartAsync(o => o.ServerTiming = true);
        using var client = host.CreateClient();

        // No body: the response starts after the save, which it reports.
        using var saved = await client.PostAsync("/set?key=a&value=1");

        // A body written by the endpoint starts the response before the save: no session-save.
        using var streamed = await client.GetAsync("/get-required?key=a");

        // After RegenerateId the response is held until the session moved, so its save ends before it starts.
        using var held = await client.PostAsync("/large?bytes=20000&regenerate=true");

        // Read-only: no save at all.
        using var read = await client.GetAsync("/get?key=a");
        using var disabled = await client.GetAsync("/disabled");

        Output.WriteLine($"saved: {string.Join(", ", TimingsOf(saved))}; streamed: {string.Join(", ", TimingsOf(streamed))}; read: {string.Join(", ", TimingsOf(read))}");
        Assert.Equal(["session-wait", "session-load", "session-save"], TimingsOf(saved).Select(t => t.Name).ToArray());
        Assert.Equal(["session-wait", "session-load"], TimingsOf(streamed).Select(t => t.Name).ToArray());
        Assert.Equal(["session-wait", "session-load", "session-save"], TimingsOf(held).Select(t => t.Name).ToArray());
        Assert.Equal(["session-wait", "session-load"], TimingsOf(read).Select(t => t.Name).ToArray());
        Assert.Empty(TimingsOf(disabled));
        foreach (var response in new[] { saved, streamed, held, read })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal((double?)0, Duration(response, "session-wait"));
            Assert.InRange(Duration(response, "session-load")!.Value, 0.0, 10_000.0);
        }

        Assert.InRange(Duration(saved, "session-save")!.Value, 0.0, 10_000.0);
    }

    [Fact]
    public async Task Server_Timing_is_appended_to_the_applications_own_and_off_when_the_option_is()
    {
        await using var on = await StartAsync(
            o => o.ServerTiming = true,
            beforeSession: app => app.Use(async (context, next) =>
            {
                context.Response.Headers.Append("Server-Timing", "edge;dur=1.5");
                await next(context);
            }));
        await using var off = await StartAsync(o => o.ServerTiming = false);
        using var onClient = on.CreateClient();
        using var offClient = off.CreateClient();

        using var both = await onClient.PostAsync("/set?key=a&value=1");
        using var none = await offClient.PostAsync("/set?key=a&value=1");

        Assert.Equal(["edge", "session-wait", "session-load", "session-save"], TimingsOf(both).Select(t => t.Name).ToArray());
        Assert.Equal((double?)1.5, Duration(both, "edge"));
        Assert.False(none.Headers.Contains("Server-Timing"));
    }

    [Fact]
    public async Task A_waiters_session_wait_is_about_the_time_the_holder_kept_the_lock()
    {
        await using var host = await StartAsync(o =>
        {
            o.ServerTiming = true;
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var holder = await host.HoldLockAsync(client);

        var waiterClock = Stopwatch.StartNew();
        var waiter = client.GetAsync("/get?key=a");
        await Until(() => coordinator.WaitingCount(id) == 1);

        // The holder keeps the lock at least as long as a fast endpoint waits behind it before giving up (its own 300 ms).
        var held = Stopwatch.StartNew();
        using var gaveUp = await client.PostAsync("/fail-fast");
        host.Gate.Open();
        var heldAtLeast = held.Elapsed;
        using var waited = await waiter;
        var waitedAtMost = waiterClock.Elapsed;
        using var holderResponse = await holder;

        var wait = Duration(waited, "session-wait")!.Value;
        Output.WriteLine($"session-wait {wait} ms; the holder kept the lock {heldAtLeast.TotalMilliseconds:0} ms after the waiter queued; the waiter took {waitedAtMost.TotalMilliseconds:0} ms");
        Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
        Assert.InRange(wait, heldAtLeast.TotalMilliseconds - 50, waitedAtMost.TotalMilliseconds);
        Assert.NotNull(Duration(waited, "session-load"));

        // The request that gave up reports its wait, and no load: it never got the session.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, gaveUp.StatusCode);
        Assert.Equal(["session-wait"], TimingsOf(gaveUp).Select(t => t.Name).ToArray());
        Assert.InRange(Duration(gaveUp, "session-wait")!.Value, 290.0, heldAtLeast.TotalMilliseconds);
    }

    /// <summary>The Server-Timing entries of a response (name and dur), in order, across header lines.</summary>
    private static List<(string Name, double? Duration)> TimingsOf(HttpResponseMessage response)
    {
        var timings = new List<(string, double?)>();
        if (!response.Headers.TryGetValues("Server-Timing", out var values))
        {
            return timings;
        }

        foreach (var entry in values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            var dur = parts.Skip(1).FirstOrDefault(p => p.StartsWith("dur=", StringComparison.Ordinal));
            timings.Add((parts[0], dur is null ? null : double.Parse(dur[4..], CultureInfo.InvariantCulture)));
        }

        return timings;
    }

    private static double? Duration(HttpResponseMessage response, string metric) =>
        TimingsOf(response).Where(t => t.Name == metric).Select(t => t.Duration).FirstOrDefault();
}
