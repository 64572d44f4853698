using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace SessionLocking.TestServer;

/// <summary>Small endpoints, one per rule, used by the behaviour suite in-process and by multi-process tests.</summary>
public static class TestEndpoints
{
    private static readonly long Origin = Stopwatch.GetTimestamp();

    public static IEndpointRouteBuilder MapTestEndpoints(this IEndpointRouteBuilder app)
    {
        // Read-modify-write with a yield in between: without the lock, concurrent increments would be lost.
        app.MapPost("/increment", [SessionState(SessionStateBehavior.Required)] async (HttpContext context, WriterTracker tracker) =>
        {
            var session = context.GetSessionState();
            using (tracker.Enter(session.SessionID, writer: true))
            {
                var value = session.Get<int>("counter");
                await Task.Yield();
                await Task.Delay(Random.Shared.Next(0, 2));
                session.Set("counter", value + 1);
                return Results.Ok(value + 1);
            }
        });

        app.MapGet("/counter", [SessionState(SessionStateBehavior.ReadOnly)] (HttpContext context) =>
            Results.Ok(context.GetSessionState().Get<int>("counter")));

        app.MapGet("/slow-readonly", SlowAsync).WithSessionState(SessionStateBehavior.ReadOnly);
        app.MapGet("/slow-required", SlowAsync).WithSessionState(SessionStateBehavior.Required);

        app.MapPost("/set", (HttpContext context, string key, string value) =>
        {
            context.GetSessionState()[key] = value;
            return Results.Ok();
        });

        app.MapGet("/get", (HttpContext context, string key) => Results.Ok(context.GetSessionState()[key] as string))
            .WithSessionState(SessionStateBehavior.ReadOnly);

        app.MapGet("/get-required", (HttpContext context, string key) => Results.Ok(context.GetSessionState()[key] as string));

        app.MapPost("/readonly-write", (HttpContext context, string key, string value) =>
        {
            context.GetSessionState()[key] = value;
            return Results.Ok();
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        app.MapGet("/get-string", (HttpContext context, string key) => Results.Ok(context.GetSessionState().Get<string>(key)))
            .WithSessionState(SessionStateBehavior.ReadOnly);

        // Holds the lock until the test opens the gate; sets a value first so a lost write-back is visible.
        // The response is complete in length and flushed before the endpoint returns, so a lost write-back
        // afterwards must still reach the client as a failure.
        app.MapPost("/hold", async (HttpContext context, HoldGate gate, string value) =>
        {
            context.GetSessionState()["held"] = value;
            await gate.WaitAsync(context.RequestAborted);
            var body = System.Text.Encoding.UTF8.GetBytes(value);
            context.Response.ContentType = "text/plain";
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        });

        app.MapGet("/nothing", () => Results.Ok("nothing"));

        // Fail fast: Required endpoints that give up waiting for the session after 300 ms, whatever LockWaitTimeout says.
        app.MapPost("/fail-fast", [SessionState(SessionStateBehavior.Required, LockWaitTimeoutMilliseconds = 300)] (HttpContext context) =>
        {
            context.GetSessionState()["fast"] = "attribute";
            return Results.Ok();
        });
        app.MapPost("/fail-fast-convention", (HttpContext context) =>
        {
            context.GetSessionState()["fast"] = "convention";
            return Results.Ok();
        }).WithSessionState(SessionStateBehavior.Required, lockWaitTimeout: TimeSpan.FromMilliseconds(300));

        app.MapPost("/fail", (HttpContext context) =>
        {
            context.GetSessionState()["fail"] = "written before the failure";
            throw new InvalidOperationException("the endpoint failed");
        });

        app.MapPost("/abandon", (HttpContext context) =>
        {
            context.GetSessionState().Abandon();
            return Results.Ok();
        });

        app.MapPost("/regenerate", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            var old = session.SessionID;
            session.RegenerateId();
            return Results.Ok(new[] { old, session.SessionID });
        });

        app.MapPost("/timeout", (HttpContext context, int minutes) =>
        {
            context.GetSessionState().Timeout = minutes;
            return Results.Ok();
        });

        app.MapGet("/info", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            return Results.Ok(new SessionInfo(session.SessionID, session.IsNewSession, session.IsReadOnly, session.Timeout, session.Keys.ToArray()));
        });

        app.MapGet("/disabled", () => Results.Ok("ok")).WithSessionState(SessionStateBehavior.Disabled);

        app.MapGet("/disabled/touch", (HttpContext context) =>
        {
            try
            {
                context.GetSessionState();
                return Results.Ok("no error");
            }
            catch (InvalidOperationException ex)
            {
                return Results.Ok(ex.Message);
            }
        }).WithSessionState(SessionStateBehavior.Disabled);

        app.MapGet("/disabled/core-session", (HttpContext context) =>
        {
            try
            {
                context.Session.SetString("x", "y");
                return Results.Ok("no error");
            }
            catch (InvalidOperationException ex)
            {
                return Results.Ok(ex.Message);
            }
        }).WithSessionState(SessionStateBehavior.Disabled);

        // Changes the session, regenerates its id (reporting the new one to the test) and holds the lock until the
        // gate opens: a waiter may force-release it meanwhile.
        app.MapPost("/regenerate-hold", async (HttpContext context, HoldGate gate, string value) =>
        {
            var session = context.GetSessionState();
            session["a"] = value;
            session.RegenerateId();
            gate.Note = session.SessionID;
            await gate.WaitAsync(context.RequestAborted);
            return Results.Ok(session.SessionID);
        });

        // A value that serializes when set and no longer at the end of the request, after RegenerateId.
        app.MapPost("/regenerate-unserializable", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            var node = new Node();
            session.Set("loop", node);
            node.Next = node;
            session.RegenerateId();
            return Results.Ok();
        });

        // An object graph stored, then read and changed in place so that it has a cycle (an EF entity's navigation
        // properties do this): the change can only be found, and fail, when the request ends.
        app.MapPost("/graph/store", (HttpContext context) =>
        {
            context.GetSessionState().Set("graph", new List<Node> { new() });
            return Results.Ok();
        });
        app.MapPost("/graph/link", (HttpContext context) =>
        {
            var nodes = context.GetSessionState().Get<List<Node>>("graph")!;
            nodes[0].Next = nodes[0];
            return Results.Ok();
        });

        // A read-only request that changes two items and the timeout (the changes are dropped, and the log says which).
        app.MapPost("/readonly-changes", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            session["lastSeen"] = "now";
            session.Remove("cart");
            session.Timeout = 30;
            return Results.Ok();
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        // Changes the session, optionally regenerates its id, then writes a body of the given size in 8 KiB chunks.
        app.MapPost("/large", async (HttpContext context, int bytes, bool regenerate) =>
        {
            var session = context.GetSessionState();
            session["large"] = "written";
            if (regenerate)
            {
                session.RegenerateId();
            }

            var chunk = new byte[8192];
            Array.Fill(chunk, (byte)'x');
            for (var sent = 0; sent < bytes; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, bytes - sent)), context.RequestAborted);
            }
        });

        // ASP.NET Core style code over the same items.
        app.MapPost("/core/set", (HttpContext context, string key, string value) =>
        {
            context.Session.SetString(key, value);
            return Results.Ok();
        });

        app.MapGet("/core/get", (HttpContext context, string key) => Results.Ok(context.Session.GetString(key)))
            .WithSessionState(SessionStateBehavior.ReadOnly);

        return app;
    }

    private static async Task<IResult> SlowAsync(HttpContext context, WriterTracker tracker, int ms)
    {
        var session = context.GetSessionState();
        var start = Now();
        using (tracker.Enter(session.SessionID, writer: !session.IsReadOnly))
        {
            await Task.Delay(ms, context.RequestAborted);
        }

        return Results.Ok(new SlowResult(session.IsReadOnly ? "ReadOnly" : "Required", start, Now()));
    }

    /// <summary>Milliseconds on this process's monotonic clock.</summary>
    public static double Now() => Stopwatch.GetElapsedTime(Origin).TotalMilliseconds;

    public sealed record SlowResult(string Behavior, double Start, double End);

    public sealed class Node
    {
        public Node? Next { get; set; }
    }

    public sealed record SessionInfo(string Id, bool IsNew, bool IsReadOnly, int Timeout, string[] Keys);
}
