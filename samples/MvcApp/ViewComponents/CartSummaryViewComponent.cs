using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.ViewComponents;

/// <summary>
/// The cart summary of the shared layout (MVC 5: a <c>[ChildActionOnly]</c> action rendered with
/// <c>Html.Action("CartSummary")</c>). The layout renders on pages of every behaviour, Disabled ones too, which have no
/// session: <c>TryGetSessionState</c> asks instead of throwing, as classic code wrote <c>if (Session != null)</c>. It
/// runs in the page's request, so it reads under the page's lock (or the page's read-only load) and writes nothing.
/// </summary>
public sealed class CartSummaryViewComponent : ViewComponent
{
    public IViewComponentResult Invoke()
    {
        int? count = HttpContext.TryGetSessionState(out var session)
            ? (session[CartKeys.Cart] as Cart)?.ItemCount ?? 0
            : null; // no session on this page: show the link without a count
        return View(count);
    }
}
