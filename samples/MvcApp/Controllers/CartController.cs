using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// The cart, written the classic way: <c>Session["cart"]</c> holds a <see cref="Cart"/> object that is changed in
/// place. No attribute: controllers are <see cref="SessionStateBehavior.Required"/> by default, so each request
/// holds the session's exclusive lock from before the action until the changes are written back.
/// </summary>
[Route("cart")]
public sealed class CartController : Controller
{
    private const int MaxProductNameLength = 100;

    private IHttpSessionState Session => HttpContext.GetSessionState();

    [HttpGet("")]
    public IActionResult Index()
    {
        // Reading does not create anything: a visitor without a cart gets an empty one that is not stored,
        // so a new session that is never written sends no cookie.
        var cart = Session[CartKeys.Cart] as Cart ?? new Cart();
        return View(new CartViewModel(cart, Session.IsNewSession));
    }

    [HttpPost("add")]
    [ValidateAntiForgeryToken]
    public IActionResult Add([FromForm] string? product, [FromForm] int quantity = 1, [FromForm] string? returnUrl = null)
    {
        product = product?.Trim();
        if (string.IsNullOrEmpty(product) || product.Length > MaxProductNameLength || quantity is < 1 or > 99)
        {
            return BadRequest($"Give a product name of 1 to {MaxProductNameLength} characters and a quantity of 1 to 99.");
        }

        if (Session[CartKeys.Cart] is not Cart cart)
        {
            cart = new Cart();
            Session[CartKeys.Cart] = cart;
        }

        // In place: the cart is not assigned again. The change is found at the end of the request.
        cart.Add(product, quantity);
        return BackTo(returnUrl);
    }

    [HttpPost("remove")]
    [ValidateAntiForgeryToken]
    public IActionResult Remove([FromForm] string? product)
    {
        if (Session[CartKeys.Cart] is Cart cart && product is not null)
        {
            cart.Remove(product);
        }

        return RedirectToAction(nameof(Index));
    }

    [HttpPost("clear")]
    [ValidateAntiForgeryToken]
    public IActionResult Clear()
    {
        (Session[CartKeys.Cart] as Cart)?.Clear();
        return RedirectToAction(nameof(Index));
    }

    /// <summary>
    /// Read, yield, write: without the session lock, concurrent calls would read the same value and lose
    /// updates. With it, N calls always end at N. A JSON endpoint for scripts and tests, so no antiforgery token.
    /// </summary>
    [HttpPost("increment")]
    [IgnoreAntiforgeryToken]
    public async Task<IActionResult> Increment()
    {
        var current = Session[CartKeys.Counter] is int n ? n : 0;
        await Task.Yield();
        Session[CartKeys.Counter] = current + 1;
        return Json(new { value = current + 1 });
    }

    /// <summary>The counter, read in a read-only request (it waits while a writer holds the lock).</summary>
    [HttpGet("counter")]
    [SessionState(SessionStateBehavior.ReadOnly)]
    public IActionResult Counter() => Json(new { value = Session[CartKeys.Counter] is int n ? n : 0 });

    private IActionResult BackTo(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && Url.IsLocalUrl(returnUrl) ? LocalRedirect(returnUrl) : RedirectToAction(nameof(Index));
}
