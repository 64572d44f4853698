using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// Product pages only read the session (the cart count), so the whole controller is read-only: its requests
/// take no lock and run side by side, waiting only while a writer of the same session holds the lock.
/// </summary>
[Route("catalogue")]
[SessionState(SessionStateBehavior.ReadOnly)]
public sealed class CatalogueController : Controller
{
    /// <summary>The key <see cref="TryWrite"/> writes (and that is never saved).</summary>
    public const string ProbeKey = "catalogue-probe";

    [HttpGet("")]
    public IActionResult Index()
    {
        var session = HttpContext.GetSessionState();
        var cart = session[CartKeys.Cart] as Cart;
        var hasCookie = Request.Cookies.ContainsKey(SessionLocking.LockedSessionDefaults.CookieName);
        return View(new CatalogueViewModel(ProductCatalogue.All, cart?.ItemCount ?? 0, hasCookie, session.IsReadOnly));
    }

    /// <summary>
    /// Writes in a read-only request. The value is visible for the rest of this request only: it is never
    /// saved (the middleware logs a warning). A JSON endpoint for the page's script and for tests.
    /// </summary>
    [HttpPost("try-write")]
    [IgnoreAntiforgeryToken]
    public IActionResult TryWrite()
    {
        var session = HttpContext.GetSessionState();
        var value = $"written by a read-only request at {DateTimeOffset.UtcNow:O}";
        session[ProbeKey] = value;
        return Json(new { isReadOnly = session.IsReadOnly, key = ProbeKey, valueInThisRequest = session[ProbeKey] as string });
    }
}
