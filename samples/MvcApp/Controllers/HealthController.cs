using Microsoft.AspNetCore.Mvc;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// A health check needs no session: Disabled. It neither waits for a session lock nor loads anything, whatever
/// cookie comes with it. Touching the session here fails with a clear <see cref="InvalidOperationException"/>.
/// </summary>
[Route("health")]
[SessionState(SessionStateBehavior.Disabled)]
public sealed class HealthController : Controller
{
    [HttpGet("")]
    public IActionResult Index() => Content("ok", "text/plain");

    /// <summary>
    /// Shows what touching the session in a Disabled request does: <c>api=classic</c> calls
    /// <c>GetSessionState()</c>, <c>api=core</c> reads <c>HttpContext.Session</c>. Answers 500 with the exception.
    /// </summary>
    [HttpGet("session-probe")]
    public IActionResult SessionProbe([FromQuery] string api = "classic")
    {
        try
        {
            var keys = api == "core" ? HttpContext.Session.Keys.Count() : HttpContext.GetSessionState().Count;
            return Content($"unexpected: the session is available here ({keys} keys)", "text/plain");
        }
        catch (Exception ex)
        {
            return StatusCode(StatusCodes.Status500InternalServerError, new { exception = ex.GetType().FullName, message = ex.Message });
        }
    }

    /// <summary>The same mistake without a catch: the exception goes to the error handler and the answer is 500.</summary>
    [HttpGet("session-unhandled")]
    public IActionResult SessionUnhandled() => Content($"unexpected: the session is available here ({HttpContext.GetSessionState().Count} keys)", "text/plain");
}
