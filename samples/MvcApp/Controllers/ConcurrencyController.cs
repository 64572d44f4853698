using Microsoft.AspNetCore.Mvc;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// The concurrency page: its script fires parallel requests at the slow actions and draws when each ran.
/// </summary>
[Route("concurrency")]
public sealed class ConcurrencyController : Controller
{
    private const string VisitsKey = "concurrency-visits";
    private static readonly string[] Scenarios = ["required", "readonly", "disabled", "mixed", "report"];

    /// <summary>
    /// Required (the default). It counts visits in the session, so that the browser has a session cookie and
    /// the parallel requests the page fires all belong to one session: locks are per session.
    /// </summary>
    [HttpGet("")]
    public IActionResult Index(string? auto = null, int n = 4, int ms = 600)
    {
        var session = HttpContext.GetSessionState();
        session[VisitsKey] = (session[VisitsKey] is int visits ? visits : 0) + 1;
        ViewData["Auto"] = auto is not null && Scenarios.Contains(auto, StringComparer.Ordinal) ? auto : null;
        ViewData["N"] = Math.Clamp(n, 1, 6);
        ViewData["Ms"] = Math.Clamp(ms, 50, 5000);
        return View();
    }
}
