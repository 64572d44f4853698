namespace MvcApp.Models;

/// <summary>Session keys used by the sample.</summary>
public static class CartKeys
{
    /// <summary>The <see cref="Cart"/>, through the classic object API.</summary>
    public const string Cart = "cart";

    /// <summary>An int counter, through the classic object API.</summary>
    public const string Counter = "counter";
}

/// <summary>
/// A shopping cart kept in session with the classic API (<c>Session["cart"]</c>). It is a plain mutable class:
/// the controller changes it in place and never assigns it again; the middleware notices the change by
/// serializing it at the end of the request and comparing the bytes with what it loaded.
/// Allowed for the object API in Program.cs with <c>options.AllowType&lt;Cart&gt;()</c>.
/// </summary>
public sealed class Cart
{
    public List<CartLine> Lines { get; set; } = new();

    /// <summary>Total quantity of all lines.</summary>
    public int ItemCount => Lines.Sum(l => l.Quantity);

    public void Add(string product, int quantity = 1)
    {
        var line = Lines.FirstOrDefault(l => string.Equals(l.Product, product, StringComparison.OrdinalIgnoreCase));
        if (line is null)
        {
            Lines.Add(new CartLine { Product = product, Quantity = quantity });
        }
        else
        {
            line.Quantity += quantity;
        }
    }

    public bool Remove(string product) =>
        Lines.RemoveAll(l => string.Equals(l.Product, product, StringComparison.OrdinalIgnoreCase)) > 0;

    public void Clear() => Lines.Clear();
}

/// <summary>One product in the cart.</summary>
public sealed class CartLine
{
    public string Product { get; set; } = "";

    public int Quantity { get; set; }
}
