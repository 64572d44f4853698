#pragma warning disable CA1050 // The legacy application's namespace, as its BinaryFormatter names the types.
namespace Shop.Models;

/// <summary>The legacy application's cart (what its BinaryFormatter stores in session).</summary>
[Serializable]
public class Cart
{
    public List<CartLine> Lines { get; set; } = [];
}

/// <summary>One line of the legacy cart.</summary>
[Serializable]
public class CartLine
{
    public string Product { get; set; } = "";

    public int Quantity { get; set; }
}
