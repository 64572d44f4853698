using System.ComponentModel.DataAnnotations;

namespace MvcApp.Models;

/// <summary>
/// The state of the checkout wizard, kept in <c>Session["checkout"]</c> through the classic object API between the
/// steps. A plain mutable class, allowed in Program.cs with <c>options.AllowType&lt;CheckoutState&gt;()</c>. Each step
/// changes it in place; the middleware notices the change and writes the item back when the request releases the lock.
/// </summary>
public sealed class CheckoutState
{
    /// <summary>The furthest step the visitor may open: 1 at the start, one more after each step passed validation.</summary>
    public int FurthestStep { get; set; } = 1;

    public ShippingDetails Shipping { get; set; } = new();

    public DeliveryDetails Delivery { get; set; } = new();

    public PaymentDetails Payment { get; set; } = new();
}

/// <summary>Step 1.</summary>
public sealed class ShippingDetails
{
    [Required(ErrorMessage = "Give the recipient's name.")]
    [StringLength(100, ErrorMessage = "At most 100 characters.")]
    [Display(Name = "Full name")]
    public string Name { get; set; } = "";

    [Required(ErrorMessage = "Give the street and number.")]
    [StringLength(200, ErrorMessage = "At most 200 characters.")]
    public string Street { get; set; } = "";

    [Required(ErrorMessage = "Give the city.")]
    [StringLength(100, ErrorMessage = "At most 100 characters.")]
    public string City { get; set; } = "";

    [Required(ErrorMessage = "Give the postal code.")]
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9 -]{1,8}[A-Za-z0-9]$", ErrorMessage = "3 to 10 letters, digits, spaces or dashes.")]
    [Display(Name = "Postal code")]
    public string PostalCode { get; set; } = "";
}

/// <summary>Step 2.</summary>
public sealed class DeliveryDetails
{
    [Required(ErrorMessage = "Choose standard or express delivery.")]
    [RegularExpression("^(standard|express)$", ErrorMessage = "Choose standard or express delivery.")]
    public string Method { get; set; } = "";

    [StringLength(200, ErrorMessage = "At most 200 characters.")]
    [Display(Name = "Instructions for the courier")]
    public string? Instructions { get; set; }
}

/// <summary>Step 3.</summary>
public sealed class PaymentDetails
{
    [Required(ErrorMessage = "Choose card or invoice.")]
    [RegularExpression("^(card|invoice)$", ErrorMessage = "Choose card or invoice.")]
    public string Method { get; set; } = "";

    [Required(ErrorMessage = "Give an e-mail address for the receipt.")]
    [EmailAddress(ErrorMessage = "Give a valid e-mail address.")]
    [StringLength(200, ErrorMessage = "At most 200 characters.")]
    [Display(Name = "E-mail for the receipt")]
    public string Email { get; set; } = "";
}

/// <summary>The wizard's steps, in order. Step numbers start at 1.</summary>
public static class CheckoutSteps
{
    public const int Shipping = 1;
    public const int Delivery = 2;
    public const int Payment = 3;
    public const int Review = 4;

    /// <summary>The step's action name and title, by number.</summary>
    public static IReadOnlyList<(int Number, string Action, string Title)> All { get; } =
    [
        (Shipping, "Shipping", "Shipping address"),
        (Delivery, "Delivery", "Delivery"),
        (Payment, "Payment", "Payment"),
        (Review, "Review", "Review and finish"),
    ];

    public static string ActionOf(int step) => All[Math.Clamp(step, 1, All.Count) - 1].Action;
}

/// <summary>What a wizard page shows: the step's details, where the visitor is, and an optional message.</summary>
public sealed record WizardPage<TDetails>(int Step, int FurthestStep, TDetails Details, string? Message);
