using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Classic <c>Session_End</c> (<see cref="LockedSessionEvents.OnSessionEnd"/>) on the in-memory store with a manual
/// clock: raised once per ended session, after the abandoning request released it or after the timeout, with the items.
/// </summary>
public sealed class SessionEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan Sweep = TimeSpan.FromSeconds(5);

    private readonly ManualTimeProvider _time = new();
    private readonly SessionEndRecorder _ends = new();
    private InMemorySessionStateStore? _store;

    private Task<TestHost> StartAsync(Action<LockedSessionOptions>? options = null, Func<SessionEndContext, Task>? handler = null, bool withHandler = true) =>
        TestHost.StartAsync(
            o =>
            {
                o.Timeout = Timeout;
                o.SessionEndSweepInterval = Sweep;
                if (withHandler)
                {
                    o.Events.OnSessionEnd = handler ?? _ends.Handler();
                }

                options?.Invoke(o);
            },
            b => b.AddStore(_ => _store = new InMemorySessionStateStore(_time)),
            s => s.AddSingleton<TimeProvider>(_time),
            app => app.MapPost("/set-then-abandon", (HttpContext context, string key, string value) =>
            {
                context.GetSessionState()[key] = value;
                context.GetSessionState().Abandon();
                return Results.Ok();
            }));

    [Fact]
    public async Task Abandon_raises_the_end_once_after_the_release_with_the_items_the_request_left()
    {
        SessionStoreResult? seenByHandler = null;
        await using var host = await StartAsync(handler: async context =>
        {
            // Classic order: the abandoning request released the session before Session_End ran.
            seenByHandler = await _store!.GetSharedAsync(context.SessionId, CancellationToken.None);
            await _ends.Handler()(context);
        });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=cart&value=3 seats")).Dispose();
        var id = client.SessionId!;
        using (var abandoned = await client.PostAsync("/set-then-abandon?key=last&value=set before Abandon()"))
        {
            Assert.Equal(HttpStatusCode.OK, abandoned.StatusCode);
        }

        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(id, raised.SessionId);
        Assert.Equal(SessionEndReason.Abandoned, raised.Reason);
        Assert.Equal("3 seats", raised.Items["cart"]);
        Assert.Equal("set before Abandon()", raised.Items["last"]);
        Assert.Equal(SessionStoreStatus.NotFound, seenByHandler!.Value.Status);

        _time.Advance(Timeout + Sweep + Sweep);
        await Task.Delay(100);
        Assert.Single(_ends.All);
        Assert.Equal(0, _store!.PendingEnds);
    }

    [Fact]
    public async Task A_timed_out_session_is_raised_once_within_a_sweep_of_its_expiry_with_its_items()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var id = client.SessionId!;

        _time.Advance(Timeout - TimeSpan.FromSeconds(1));
        await Task.Delay(100);
        Assert.Empty(_ends.All);

        _time.Advance(TimeSpan.FromSeconds(1) + Sweep);
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(id, raised.SessionId);
        Assert.Equal(SessionEndReason.Timeout, raised.Reason);
        Assert.Equal("12A", raised.Items["seat"]);

        _time.Advance(Sweep * 3);
        await Task.Delay(100);
        Assert.Single(_ends.All);
    }

    [Fact]
    public async Task A_request_that_runs_when_the_timeout_would_fire_keeps_the_session_alive_and_no_end_is_raised()
    {
        await using var host = await StartAsync(o => o.ExecutionTimeout = Timeout * 3);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var holder = await host.HoldLockAsync(client, "held");

        _time.Advance(Timeout + Sweep + Sweep);
        await Task.Delay(100);
        Assert.Empty(_ends.All);

        host.Gate.Open();
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        // Slid by the request's release: alive for a whole timeout again.
        _time.Advance(Timeout - TimeSpan.FromSeconds(1));
        await Task.Delay(100);
        Assert.Empty(_ends.All);
        Assert.Equal("12A", await client.GetJsonAsync<string>("/get?key=seat"));

        _time.Advance(Timeout + Sweep);
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal("12A", raised.Items["seat"]);
    }

    [Fact]
    public async Task A_request_with_the_id_of_a_timed_out_session_gets_a_new_session_and_the_end_keeps_the_old_items()
    {
        await using var host = await StartAsync(o => o.RegenerateUnknownSessionIds = false);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var id = client.SessionId!;

        // Past the timeout, before any sweep: the old items are never handed to a request again.
        _time.Advance(Timeout + TimeSpan.FromMilliseconds(1));
        Assert.Null(await client.GetJsonAsync<string?>("/get?key=seat"));
        (await client.PostAsync("/set?key=seat&value=new")).Dispose();
        Assert.Equal(id, client.SessionId);

        _time.Advance(Sweep);
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(id, raised.SessionId);
        Assert.Equal("12A", raised.Items["seat"]);
        Assert.Equal("new", await client.GetJsonAsync<string>("/get?key=seat"));
    }

    [Fact]
    public async Task The_ended_session_is_read_only_a_change_throws()
    {
        var outcome = new TaskCompletionSource<string>();
        await using var host = await StartAsync(handler: context =>
        {
            try
            {
                context.Session["seat"] = "changed";
                outcome.SetResult("written");
            }
            catch (InvalidOperationException ex)
            {
                outcome.SetResult($"{context.Session["seat"]}|{context.Session.Count}|{ex.Message}");
            }

            return Task.CompletedTask;
        });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        (await client.PostAsync("/abandon")).Dispose();

        var seen = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("12A|1|The session has ended", seen);
    }

    [Fact]
    public async Task A_handler_that_throws_or_hangs_is_logged_and_counted_and_other_ends_are_still_raised()
    {
        var failures = 0L;
        var hang = new TaskCompletionSource();
        await using var host = await StartAsync(
            o => o.SessionEndHandlerTimeout = TimeSpan.FromSeconds(30),
            handler: async context =>
            {
                switch (context.Session["mode"] as string)
                {
                    case "throw":
                        throw new InvalidOperationException("the handler failed");
                    case "hang":
                        await hang.Task;
                        break;
                }

                await _ends.Handler()(context);
            });
        using var listener = host.ListenToCounter(Diagnostics.SessionLockingTelemetry.SessionEndFailures, v => Interlocked.Add(ref failures, v));
        foreach (var mode in new[] { "throw", "hang", "fine" })
        {
            using var client = host.CreateClient();
            (await client.PostAsync("/set?key=mode&value=" + mode)).Dispose();
            (await client.PostAsync("/abandon")).Dispose();
        }

        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal("fine", raised.Items["mode"]);
        await WaitUntilAsync(() => TestLog.Has("SessionEndHandlerFailed"));

        await WaitUntilAsync(() => _time.PendingTimers > 0 && host.Services.GetRequiredService<SessionEnds.SessionEndDispatcher>().Running == 1);
        _time.Advance(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => TestLog.Has("SessionEndHandlerHung"));
        await WaitUntilAsync(() => Interlocked.Read(ref failures) == 2);
        Assert.Equal(0, host.Services.GetRequiredService<SessionEnds.SessionEndDispatcher>().Running);
        await WaitUntilAsync(() => _store!.PendingEnds == 0);
        hang.SetResult();
    }

    [Fact]
    public async Task Handlers_run_at_most_the_configured_number_at_once_and_every_end_is_raised()
    {
        var gate = new TaskCompletionSource();
        var running = 0;
        var most = 0;
        await using var host = await StartAsync(
            o => o.MaxConcurrentSessionEndHandlers = 2,
            handler: async context =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref most, now);
                await gate.Task;
                Interlocked.Decrement(ref running);
                await _ends.Handler()(context);
            });
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            using var client = host.CreateClient();
            (await client.PostAsync("/set?key=n&value=" + i)).Dispose();
            ids.Add(client.SessionId!);
            (await client.PostAsync("/abandon")).Dispose();
        }

        await WaitUntilAsync(() => Volatile.Read(ref running) == 2);
        await Task.Delay(100);
        Assert.Equal(2, Volatile.Read(ref running));
        gate.SetResult();

        var raised = await _ends.WaitForAsync(6);
        Assert.Equal(2, most);
        Assert.Equal(ids.Order(), raised.Select(r => r.SessionId).Order());
    }

    [Fact]
    public async Task Shutdown_signals_the_handlers_token_and_waits_for_a_running_handler()
    {
        var entered = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var sawStopping = false;
        var host = await StartAsync(handler: async context =>
        {
            entered.SetResult();
            await finish.Task;
            sawStopping = context.CancellationToken.IsCancellationRequested;
            await _ends.Handler()(context);
        });
        using (var client = host.CreateClient())
        {
            (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
            (await client.PostAsync("/abandon")).Dispose();
        }

        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var stopping = host.DisposeAsync().AsTask();
        await Task.Delay(200);
        Assert.False(stopping.IsCompleted, "the host stopped while an OnSessionEnd handler was running");

        finish.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(sawStopping);
        Assert.Single(_ends.All);
        Assert.Equal(0, _store!.PendingEnds);
    }

    [Fact]
    public async Task A_regenerated_id_moves_the_session_and_raises_no_end_for_the_old_id()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var oldId = client.SessionId!;
        (await client.PostAsync("/regenerate")).Dispose();
        Assert.NotEqual(oldId, client.SessionId);

        _time.Advance(Sweep * 2);
        await Task.Delay(100);
        Assert.Empty(_ends.All);
        Assert.Equal("12A", await client.GetJsonAsync<string>("/get?key=seat"));

        _time.Advance(Timeout + Sweep);
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(client.SessionId, raised.SessionId);
    }

    [Fact]
    public async Task Without_a_handler_the_store_keeps_nothing_for_ends()
    {
        await using var host = await StartAsync(withHandler: false);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        (await client.PostAsync("/abandon")).Dispose();
        using var other = host.CreateClient();
        (await other.PostAsync("/set?key=seat&value=12B")).Dispose();
        _time.Advance(Timeout + Sweep);
        Assert.Null(await other.GetJsonAsync<string?>("/get?key=seat"));

        Assert.Equal(0, _store!.PendingEnds);
        Assert.Equal(0, _store.Count);
        Assert.Equal(0, host.Services.GetRequiredService<SessionEnds.SessionEndDispatcher>().Running);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var was && was != seen)
        {
            seen = was;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(20);
        }
    }
}
