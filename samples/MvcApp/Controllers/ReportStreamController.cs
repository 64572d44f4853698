using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using MvcApp.Services;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// A long report that streams (an export, a large CSV): it makes its last session change (when it was last run), then
/// releases the session early with <c>HttpContext.ReleaseSessionAsync()</c>, so the user's other pages do not wait for
/// the whole stream; classic held the lock until the last byte. Required (the default): it writes the session.
/// Its last line is JSON with the server times (ms since the app started) it started, released and ended at.
/// </summary>
[Route("report/stream")]
public sealed class ReportStreamController(AppClock clock) : Controller
{
    public const string LastRunKey = "report-last-run";

    [HttpGet("")]
    public async Task Stream(int ms = 1500, int rows = 5)
    {
        var start = clock.NowMs;
        HttpContext.GetSessionState()[LastRunKey] = start.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // The last change is made: save it now and let the session's other requests in while the rows stream.
        await HttpContext.ReleaseSessionAsync();
        var released = clock.NowMs;

        rows = Math.Clamp(rows, 1, 20);
        var pause = TimeSpan.FromMilliseconds(Math.Clamp(ms, 50, 10_000) / (double)rows);
        Response.ContentType = "text/plain; charset=utf-8";
        for (var row = 1; row <= rows; row++)
        {
            await Response.WriteAsync($"row {row}\n", HttpContext.RequestAborted);
            await Response.Body.FlushAsync(HttpContext.RequestAborted);
            await Task.Delay(pause, HttpContext.RequestAborted);
        }

        var end = clock.NowMs;
        await Response.WriteAsync(JsonSerializer.Serialize(new { behavior = "Report", start, released, end }), HttpContext.RequestAborted);
    }
}
