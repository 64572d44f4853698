using Microsoft.AspNetCore.Mvc;
using MvcApp.Services;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// One slow action per behaviour, for the concurrency page and the tests. Each answers with the resolved
/// behaviour and the server times (ms since the app started, monotonic clock) at which the action started and
/// ended. An action starts only once the middleware let the request in (Required: after taking the lock;
/// ReadOnly: once no writer holds it), so the intervals show who waited for whom.
/// </summary>
[Route("slow")]
public sealed class SlowController : Controller
{
    private const int MaxMs = 10_000;

    private readonly AppClock _clock;
    private readonly RunningRequests _running;

    public SlowController(AppClock clock, RunningRequests running)
    {
        _clock = clock;
        _running = running;
    }

    /// <summary>No attribute: Required, the default.</summary>
    [HttpGet("required")]
    public Task<IActionResult> Required(int ms = 300, string? tag = null, string? label = null) => RunAsync(ms, tag, label);

    [HttpGet("readonly")]
    [SessionState(SessionStateBehavior.ReadOnly)]
    public Task<IActionResult> ReadOnly(int ms = 300, string? tag = null, string? label = null) => RunAsync(ms, tag, label);

    [HttpGet("disabled")]
    [SessionState(SessionStateBehavior.Disabled)]
    public Task<IActionResult> Disabled(int ms = 300, string? tag = null, string? label = null) => RunAsync(ms, tag, label);

    /// <summary>How many slow requests with this tag are inside their action now.</summary>
    [HttpGet("running")]
    [SessionState(SessionStateBehavior.Disabled)]
    public IActionResult Running(string tag) => Json(new { tag, running = _running.Count(tag) });

    private async Task<IActionResult> RunAsync(int ms, string? tag, string? label)
    {
        var start = _clock.NowMs;
        ms = Math.Clamp(ms, 0, MaxMs);
        var feature = HttpContext.Features.Get<ILockedSessionFeature>();
        var session = feature?.Session;
        using (_running.Enter(tag))
        {
            await Task.Delay(ms, HttpContext.RequestAborted);
        }

        var end = _clock.NowMs;
        return Json(new
        {
            behavior = feature?.Behavior.ToString() ?? "None",
            start,
            end,
            ms,
            label,
            session = session is null ? null : session.SessionID[^4..],
        });
    }
}
