using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
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

    private readonly string _cookieName;

    /// <param name="options">The session options: the page checks for the configured cookie name (SessionState:Cookie:Name).</param>
    public CatalogueController(IOptions<LockedSessionOptions> options) => _cookieName = options.Value.Cookie.Name!;

    [HttpGet("")]
    public IActionResult Index()
    {
        var session = HttpContext.GetSessionState();
        var cart = session[CartKeys.Cart] as Cart;
        var hasCookie = Request.Cookies.ContainsKey(_cookieName);
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
