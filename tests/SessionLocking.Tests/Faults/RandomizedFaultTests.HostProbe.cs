using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Faults;

// The probe each server runs in front of the session middleware.
public sealed partial class RandomizedFaultTests
{
    /// <summary>
    /// Counts the requests running on one server (outside the session middleware), maps a lost lock to 409, and
    /// starts the response before the session middleware runs when a request asks for it (<see cref="StartEarlyHeader"/>).
    /// </summary>
    private sealed class HostProbe
    {
        public const string StartEarlyHeader = "X-Start-Response-Early";
        public int InFlight;
        public readonly ConcurrentDictionary<HttpContext, (Stopwatch Since, string What)> Running = new();

        /// <summary>The requests running now: path, cookie, age, and whether the server knows the client left.</summary>
        public IEnumerable<string> Describe() =>
            Running.Select(r => $"{r.Value.What} running {r.Value.Since.ElapsedMilliseconds} ms, client gone: {r.Key.RequestAborted.IsCancellationRequested}");

        public void Install(WebApplication app) => app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref InFlight);
            Running[context] = (Stopwatch.StartNew(), $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString} cookie {context.Request.Cookies[SessionClient.CookieName] ?? "none"}");
            try
            {
                if (context.Request.Headers.ContainsKey(StartEarlyHeader))
                {
                    context.Response.ContentType = "text/plain";
                    await context.Response.StartAsync();
                }

                await LockLostAs409.InvokeAsync(context, next);
            }
            finally
            {
                Running.TryRemove(context, out _);
                Interlocked.Decrement(ref InFlight);
            }
        });
    }
}
