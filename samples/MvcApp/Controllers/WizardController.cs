using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc;
using MvcApp.Models;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// A multi-step checkout wizard written the classic way (the "after" code of docs/migration.md): its state lives in
/// <c>Session["checkout"]</c> as a <see cref="CheckoutState"/> object, read and changed through the base controller's
/// <c>Session</c> property. No attribute: <see cref="SessionStateBehavior.Required"/>, so every step holds the
/// session's lock from before the action until its change is written back, and two tabs of the same session posting
/// at once are applied one after the other instead of one overwriting the other.
/// </summary>
[Route("wizard")]
[AutoValidateAntiforgeryToken]
public sealed class WizardController : ClassicController
{
    /// <summary>The session item holding the wizard's <see cref="CheckoutState"/>.</summary>
    public const string StateKey = "checkout";

    /// <summary>The session item holding the number of the last order placed (a string).</summary>
    public const string LastOrderKey = "last-order";

    /// <summary>The wizard's state, or null. Reading never creates it, so a visitor who only looks gets no cookie.</summary>
    private CheckoutState? State => Session[StateKey] as CheckoutState;

    [HttpGet("")]
    public IActionResult Index() => ToStep(State?.FurthestStep ?? CheckoutSteps.Shipping);

    [HttpGet("shipping")]
    public IActionResult Shipping(string? message = null) => ShowStep(CheckoutSteps.Shipping, s => s.Shipping, message);

    [HttpPost("shipping")]
    public IActionResult Shipping(ShippingDetails details, string? nav) =>
        SaveStep(CheckoutSteps.Shipping, details, nav, (s, d) => s.Shipping = d);

    [HttpGet("delivery")]
    public IActionResult Delivery(string? message = null) => ShowStep(CheckoutSteps.Delivery, s => s.Delivery, message);

    [HttpPost("delivery")]
    public IActionResult Delivery(DeliveryDetails details, string? nav) =>
        SaveStep(CheckoutSteps.Delivery, details, nav, (s, d) => s.Delivery = d);

    [HttpGet("payment")]
    public IActionResult Payment(string? message = null) => ShowStep(CheckoutSteps.Payment, s => s.Payment, message);

    [HttpPost("payment")]
    public IActionResult Payment(PaymentDetails details, string? nav) =>
        SaveStep(CheckoutSteps.Payment, details, nav, (s, d) => s.Payment = d);

    [HttpGet("review")]
    public IActionResult Review(string? message = null) => ShowStep(CheckoutSteps.Review, s => s, message);

    /// <summary>Places the order: every step must be valid. Clears the wizard's state and keeps the order number.</summary>
    [HttpPost("finish")]
    public IActionResult Finish()
    {
        if (State is not { } state)
        {
            return ToStep(CheckoutSteps.Shipping, "The checkout was not started, or it was already finished.");
        }

        if (FirstIncompleteStep(state) is { } incomplete)
        {
            return ToStep(incomplete, "Complete this step before finishing.");
        }

        Session.Remove(StateKey);
        Session[LastOrderKey] = "SL-" + RandomNumberGenerator.GetHexString(8);
        return RedirectToAction(nameof(Done));
    }

    /// <summary>Forgets what was entered.</summary>
    [HttpPost("cancel")]
    public IActionResult Cancel()
    {
        Session.Remove(StateKey);
        return ToStep(CheckoutSteps.Shipping, "The checkout was cancelled.");
    }

    [HttpGet("done")]
    public IActionResult Done() =>
        Session[LastOrderKey] is string order ? View(model: order) : ToStep(State?.FurthestStep ?? CheckoutSteps.Shipping);

    /// <summary>The wizard's state as JSON, read without a lock (for scripts and tests).</summary>
    [HttpGet("state")]
    [SessionState(SessionStateBehavior.ReadOnly)]
    public IActionResult StateJson() =>
        Json(new { isReadOnly = Session.IsReadOnly, state = State, lastOrder = Session[LastOrderKey] as string });

    private IActionResult ShowStep<T>(int step, Func<CheckoutState, T> details, string? message)
    {
        // A visitor with no state sees empty forms; nothing is stored until a step is posted.
        var state = State ?? new CheckoutState();
        if (step > state.FurthestStep)
        {
            return ToStep(state.FurthestStep);
        }

        return View(CheckoutSteps.ActionOf(step), new WizardPage<T>(step, state.FurthestStep, details(state), message));
    }

    /// <summary>
    /// Next: validates the step, stores it and opens the next one. Back: stores what was typed, unvalidated, so
    /// nothing is lost, and opens the previous step (Finish validates every step again).
    /// </summary>
    private IActionResult SaveStep<T>(int step, T details, string? nav, Action<CheckoutState, T> store)
    {
        var furthest = State?.FurthestStep ?? CheckoutSteps.Shipping;
        if (step > furthest)
        {
            return ToStep(furthest, "Complete the steps in order.");
        }

        var back = string.Equals(nav, "back", StringComparison.Ordinal);
        if (!back && !ModelState.IsValid)
        {
            return View(CheckoutSteps.ActionOf(step), new WizardPage<T>(step, furthest, details, null));
        }

        // The first write creates the state object; after that it is changed in place, as classic code did.
        if (State is not { } state)
        {
            state = new CheckoutState();
            Session[StateKey] = state;
        }

        store(state, details);
        if (back)
        {
            return ToStep(Math.Max(CheckoutSteps.Shipping, step - 1));
        }

        state.FurthestStep = Math.Max(state.FurthestStep, step + 1);
        return ToStep(step + 1);
    }

    private static int? FirstIncompleteStep(CheckoutState state)
    {
        object[] steps = [state.Shipping, state.Delivery, state.Payment];
        for (var i = 0; i < steps.Length; i++)
        {
            if (!Validator.TryValidateObject(steps[i], new ValidationContext(steps[i]), null, validateAllProperties: true))
            {
                return i + 1;
            }
        }

        return state.FurthestStep < CheckoutSteps.Review ? state.FurthestStep : null;
    }

    private RedirectToActionResult ToStep(int step, string? message = null) =>
        RedirectToAction(CheckoutSteps.ActionOf(step), message is null ? null : new { message });
}
