using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;

namespace SessionLocking;

/// <summary>
/// The answers of a request that did not get its session's lock (503 after the lock wait timeout, 429 when the
/// session's queue is full), naming the endpoint that holds the lock and how long it has held it: RFC 7807 problem
/// details when the application uses them (an <see cref="IProblemDetailsService"/> is registered), plain text otherwise.
/// Only endpoint names (route patterns, display names) are ever written, never anything of another request.
/// </summary>
internal static class SessionLockAnswers
{
    public const string QueueFullMessage = "The request queue limit of the session is exceeded.";
    public const string WaitTimedOutMessage = "Timed out waiting for the session lock: another request of this session holds it.";

    /// <summary>The problem details' extension naming the holder's endpoint.</summary>
    public const string HolderExtension = "sessionLockHolder";

    /// <summary>The problem details' extension with how long the holder had held the lock (milliseconds).</summary>
    public const string HeldExtension = "sessionLockHeldMilliseconds";

    /// <summary>The message of a lock answer, with its holder when one was seen.</summary>
    public static string Message(string message, LockHolder? holder) =>
        holder is { } h
            ? string.Create(CultureInfo.InvariantCulture, $"{message} The lock is held by {h.Display} (for {h.Held.TotalSeconds:0.0} s).")
            : message;

    /// <summary>Answers <paramref name="statusCode"/>; a response that has started is aborted instead.</summary>
    public static async Task WriteAsync(HttpContext context, int statusCode, string message, LockHolder? holder)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.StatusCode = statusCode;
        var text = Message(message, holder);
        if (context.RequestServices?.GetService<IProblemDetailsService>() is { } problems)
        {
            var details = new ProblemDetails
            {
                Status = statusCode,
                Title = message,
                Detail = text,
            };
            if (holder is { } h)
            {
                details.Extensions[HolderExtension] = h.Display;
                details.Extensions[HeldExtension] = Math.Round(h.Held.TotalMilliseconds);
            }

            if (await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details }))
            {
                return;
            }
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(text, context.RequestAborted);
    }
}
