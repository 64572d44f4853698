using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// A report that only reads the session (the "after" code of docs/migration.md): in System.Web MVC it carried
/// <c>[SessionState(SessionStateBehavior.ReadOnly)]</c> from System.Web.Mvc, here the same attribute from SessionLocking.
/// Its requests take no lock, so they never queue behind each other; they wait only while a writer of the same session
/// holds the lock. Nothing it changed would be saved (the middleware would log a warning), and it changes nothing.
/// </summary>
[Route("report")]
[SessionState(SessionStateBehavior.ReadOnly)]
public sealed class ReportController : ClassicController
{
    [HttpGet("")]
    public IActionResult Index() => View(Build());

    /// <summary>The same report as JSON.</summary>
    [HttpGet("summary")]
    public IActionResult Summary() => Json(Build());

    private SessionReport Build()
    {
        var cart = Session[CartKeys.Cart] as Cart;
        var lines = (cart?.Lines ?? [])
            .Select(line =>
            {
                var price = ProductCatalogue.All.FirstOrDefault(p =>
                    string.Equals(p.Name, line.Product, StringComparison.OrdinalIgnoreCase) ||
                    string.Equals(p.Id, line.Product, StringComparison.OrdinalIgnoreCase))?.Price;
                return new ReportLine(line.Product, line.Quantity, price, price * line.Quantity);
            })
            .ToList();
        var checkout = Session[WizardController.StateKey] as CheckoutState;
        return new SessionReport(
            Session.IsReadOnly,
            lines,
            lines.Sum(l => l.Quantity),
            lines.Sum(l => l.Amount ?? 0m),
            checkout?.FurthestStep,
            Session[WizardController.LastOrderKey] as string,
            Session.Keys.ToArray());
    }
}
