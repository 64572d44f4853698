using Microsoft.AspNetCore.Http;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// What an application does with a rejected (fenced) write-back, the documented way: it catches
/// <see cref="SessionLockLostException"/> in a middleware before the session's and answers 409 itself.
/// </summary>
internal static class LockLostAs409
{
    public const string Message = "The session lock was lost; the changes were not saved.";

    /// <summary>Runs <paramref name="next"/>; a lost lock, while the response has not started, answers 409 with <see cref="Message"/>.</summary>
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (SessionLockLostException) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status409Conflict;
            await context.Response.WriteAsync(Message);
        }
    }
}
