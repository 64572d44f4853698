using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// The classic session API on one page: id (masked), IsNewSession, Timeout, Abandon, RegenerateId and the keys.
/// Required (the default): these actions change the session.
/// </summary>
[Route("session")]
public sealed class SessionController : Controller
{
    private const string NoteKey = "note";

    private IHttpSessionState Session => HttpContext.GetSessionState();

    [HttpGet("")]
    public IActionResult Index(string? message = null)
    {
        var session = Session;
        return View(new SessionPageViewModel(
            SessionIdMask.Mask(session.SessionID),
            session.IsNewSession,
            session.IsReadOnly,
            session.Timeout,
            session.Mode.ToString(),
            session.Keys.ToArray(),
            message));
    }

    /// <summary>
    /// The same facts as JSON (for scripts and tests); the id is masked here too. <c>core</c> reads the same items
    /// through ASP.NET Core's <c>HttpContext.Session</c>.
    /// </summary>
    [HttpGet("info")]
    public IActionResult Info()
    {
        var session = Session;
        return Json(new
        {
            maskedId = SessionIdMask.Mask(session.SessionID),
            isNewSession = session.IsNewSession,
            isReadOnly = session.IsReadOnly,
            timeout = session.Timeout,
            mode = session.Mode.ToString(),
            count = session.Count,
            keys = session.Keys,
            note = session[NoteKey] as string,
            counter = session[CartKeys.Counter] as int?,
            core = new
            {
                isAvailable = HttpContext.Session.IsAvailable,
                keys = HttpContext.Session.Keys,
                note = HttpContext.Session.GetString(NoteKey),
            },
        });
    }

    [HttpPost("note")]
    [ValidateAntiForgeryToken]
    public IActionResult Note([FromForm] string? note)
    {
        if (string.IsNullOrWhiteSpace(note) || note.Length > 200)
        {
            return Back("A note has 1 to 200 characters.");
        }

        Session[NoteKey] = note.Trim();
        return Back("Note saved.");
    }

    [HttpPost("timeout")]
    [ValidateAntiForgeryToken]
    public IActionResult Timeout([FromForm] int minutes)
    {
        try
        {
            Session.Timeout = minutes;
        }
        catch (ArgumentOutOfRangeException)
        {
            return Back("The timeout must be 1 to 525600 minutes (one year).");
        }

        return Back($"Timeout set to {minutes} minutes.");
    }

    [HttpPost("abandon")]
    [ValidateAntiForgeryToken]
    public IActionResult Abandon()
    {
        Session.Abandon();
        return Back("Session abandoned: its data is removed at the end of this request; the next request starts a new session.");
    }

    [HttpPost("new-id")]
    [ValidateAntiForgeryToken]
    public IActionResult NewId()
    {
        Session.RegenerateId();
        return Back("New session id issued; the data was kept and the old id no longer works.");
    }

    private RedirectToActionResult Back(string message) => RedirectToAction(nameof(Index), new { message });
}
