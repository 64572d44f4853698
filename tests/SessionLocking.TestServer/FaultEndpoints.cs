using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace SessionLocking.TestServer;

/// <summary>
/// Endpoints for the fault suite (tests/SessionLocking.Tests/Faults). They differ in one thing that matters when
/// the write-back fails: whether the response has started when the endpoint returns. The "quiet" ones write no
/// body, so the response starts only after the write-back and a failed write-back can still become a status
/// code; the "flush" one sends its body first, so a failed write-back can only abort the connection.
/// </summary>
public static class FaultEndpoints
{
    public const string CounterHeader = "X-Counter";

    public static IEndpointRouteBuilder MapFaultEndpoints(this IEndpointRouteBuilder app)
    {
        // Sets "held", then stays inside (holding the lock) until the test opens the gate; no body.
        app.MapPost("/faults/hold-quiet", async (HttpContext context, HoldGate gate, string value) =>
        {
            context.GetSessionState()["held"] = value;
            await gate.WaitAsync(CancellationToken.None);
            return Results.Ok();
        });

        // Sets "held", sends and flushes a body (the response has started), then waits for the gate.
        app.MapPost("/faults/flush-then-hold", async (HttpContext context, HoldGate gate, string value) =>
        {
            context.GetSessionState()["held"] = value;
            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes("body-" + value), CancellationToken.None);
            await context.Response.Body.FlushAsync(CancellationToken.None);
            await gate.WaitAsync(CancellationToken.None);
        });

        // Sets a value, keeps the lock for ms milliseconds (even if the client leaves), no body.
        app.MapPost("/faults/slow-set", async (HttpContext context, string key, string value, int ms) =>
        {
            context.GetSessionState()[key] = value;
            await Task.Delay(ms, CancellationToken.None);
            return Results.Ok();
        });

        // Read-modify-write of "counter" with ms of work in between (0: as fast as possible). The new value goes
        // in a header, not a body: a 200 is sent only once the write-back succeeded, and a rejected or failed
        // write-back is a status code, so the client always knows whether its increment counted.
        // A slow one (ms past the execution timeout) is meant to outlive its lock: its overlap with the next holder
        // is expected (its write is fenced), so only fast ones are tracked as writers.
        app.MapPost("/faults/increment", async (HttpContext context, WriterTracker tracker, int? ms) =>
        {
            var session = context.GetSessionState();
            using (ms is > 0 ? null : tracker.Enter(session.SessionID, writer: true))
            {
                var value = session.Get<int>("counter");
                await Task.Yield();
                if (ms is > 0)
                {
                    await Task.Delay(ms.Value, CancellationToken.None);
                }

                session.Set("counter", value + 1);
                context.Response.Headers[CounterHeader] = (value + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Ok();
            }
        });

        // Read-only view of the counter and whether the session is new (a lost session is visible as IsNew).
        app.MapGet("/faults/counter", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            return Results.Ok(new CounterView(session.Get<int>("counter"), session.IsNewSession));
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        return app;
    }

    public sealed record CounterView(int Counter, bool IsNew);

    /// <summary>Set by the randomized fault test's endpoints when a second writer of the session was inside at once.</summary>
    public const string OverlapHeader = "X-Writer-Overlap";

    /// <summary>
    /// Endpoints of the randomized fault test (tests/SessionLocking.Tests/Faults/RandomizedFaultTests.cs). Every
    /// Required one is tracked as a writer for its whole run and reports, in <see cref="OverlapHeader"/>, when it
    /// saw another writer of its session inside. Delays ignore the client: a request whose client left runs on.
    /// </summary>
    public static IEndpointRouteBuilder MapRandomizedFaultEndpoints(this IEndpointRouteBuilder app)
    {
        // Read-modify-write of "counter" after ms of work. flush=true sends and flushes a body first, so the
        // write-back runs after the response has started (a client can leave during it); the body is then
        // complete only if the write-back succeeded. end=complete ends the response with CompleteAsync, end=no-content
        // starts a 204, both before the endpoint returns (so before the write-back): neither may look complete
        // to the client unless the write-back succeeded.
        app.MapPost("/faults/rand/increment", async (HttpContext context, WriterTracker tracker, int? ms, bool? flush, string? end) =>
        {
            var session = context.GetSessionState();
            using (tracker.Enter(session.SessionID, writer: true))
            {
                var overlap = tracker.WritersInside(session.SessionID) > 1;
                var value = session.Get<int>("counter");
                await Task.Yield();
                if (ms is > 0)
                {
                    await Task.Delay(ms.Value, CancellationToken.None);
                }

                overlap |= tracker.WritersInside(session.SessionID) > 1;
                session.Set("counter", value + 1);
                context.Response.Headers[CounterHeader] = (value + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (overlap)
                {
                    context.Response.Headers[OverlapHeader] = session.SessionID;
                }

                if (flush == true)
                {
                    context.Response.ContentType = "text/plain";
                    await context.Response.Body.WriteAsync("flushed"u8.ToArray(), CancellationToken.None);
                    await context.Response.Body.FlushAsync(CancellationToken.None);
                    return Results.Empty;
                }

                if (end == "complete")
                {
                    await context.Response.CompleteAsync();
                    return Results.Empty;
                }

                if (end == "no-content")
                {
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    await context.Response.StartAsync(CancellationToken.None);
                    return Results.Empty;
                }

                return Results.Ok();
            }
        });

        // Changes the session (counter + 1 and a "poison" item), then fails: none of it may ever be saved.
        app.MapPost("/faults/rand/throw", async (HttpContext context, WriterTracker tracker, int? ms) =>
        {
            var session = context.GetSessionState();
            using (tracker.Enter(session.SessionID, writer: true))
            {
                session.Set("counter", session.Get<int>("counter") + 1);
                session.Set("poison", "written by an endpoint that then failed");
                if (ms is > 0)
                {
                    await Task.Delay(ms.Value, CancellationToken.None);
                }

                throw new InvalidOperationException("The randomized fault test's endpoint failed on purpose.");
            }
        });

        // Counter + 1, then a new id for the session: the increment must move with it. untracked=true: a slow one
        // meant to outlive its lock (its overlap with the request that force-released it is expected).
        app.MapPost("/faults/rand/regenerate-increment", async (HttpContext context, WriterTracker tracker, int? ms, bool? untracked) =>
        {
            var session = context.GetSessionState();
            using (untracked == true ? null : tracker.Enter(session.SessionID, writer: true))
            {
                var value = session.Get<int>("counter");
                if (ms is > 0)
                {
                    await Task.Delay(ms.Value, CancellationToken.None);
                }

                session.Set("counter", value + 1);
                session.RegenerateId();
                context.Response.Headers[CounterHeader] = (value + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Results.Ok();
            }
        });

        // Stores a list, then grows it past MaxValueBytes (bytes): the write-back (or, with regenerate, the move to
        // the new id) fails to serialize it, so nothing is saved, and the lock must still be released.
        app.MapPost("/faults/rand/bad-value", (HttpContext context, WriterTracker tracker, int bytes, bool? regenerate) =>
        {
            var session = context.GetSessionState();
            using (tracker.Enter(session.SessionID, writer: true))
            {
                var bag = new List<string> { "small" };
                session.Set("bag", bag);
                bag.Add(new string('x', bytes + 1));
                if (regenerate == true)
                {
                    session.RegenerateId();
                }

                return Results.Ok();
            }
        });

        // Read-only view: the counter, whether the session is new (lost), and whether a change that must never be
        // saved (poison: from a failed endpoint; bag: an unserializable value) was saved.
        app.MapGet("/faults/rand/state", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            return Results.Ok(new RandomizedStateView(session.Get<int>("counter"), session.IsNewSession, session["poison"] is not null, session.Keys.Contains("bag", StringComparer.OrdinalIgnoreCase)));
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        return app;
    }

    public sealed record RandomizedStateView(int Counter, bool IsNew, bool Poison, bool Bag);
}
