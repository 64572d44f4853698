#pragma warning disable CA1051, CA2235, SA1401 // Shaped like a classic application's [Serializable] classes: public fields, auto-properties.
namespace LegacyShop;

// The classic application's own classes, as a legacy MVC application keeps them in session. Only the tests' oracle
// (the real BinaryFormatter) knows these types; the store reads and writes them through the NewShop types mapped to
// their names.

[Serializable]
public class Cart
{
    public int Id { get; set; }

    public string? Owner;

    public string? cust;

    public List<CartLine> Lines { get; set; } = [];

    public Dictionary<string, int> Counts { get; set; } = [];

    public Status Status { get; set; }

    public decimal Total;

    public DateTime Created { get; set; }

    public DateTime Updated;

    public Guid Token { get; set; }

    public TimeSpan Age;

    public DateTime? Paid { get; set; }

    public int? Points;

    public int[]? Scores;

    public string?[]? Tags;

    public Address? Billing;

    public Address? Shipping;

    public Point Location;

    public object? Note;

    public Dictionary<Guid, CartLine>? ByToken;

    public CartLine[]? Saved;

    public char Grade;

    public double Ratio;

    public float Weight;

    public long Big;

    public ulong Huge;

    public short Small;

    public ushort USmall;

    public uint UInt;

    public byte Byte;

    public sbyte SByte;

    public bool Flag;
}

[Serializable]
public class CartLine
{
    public string? Sku { get; set; }

    public int Quantity { get; set; }

    public decimal Price { get; set; }
}

[Serializable]
public class Address
{
    public string? City;

    public Cart? Cart;
}

[Serializable]
public struct Point
{
    public int X;

    public int Y;
}

public enum Status
{
    New,
    Paid,
    Shipped,
}

/// <summary>A legacy class named like a mapped one but with members of other types (a hostile or mistaken payload).</summary>
[Serializable]
public class Impostor
{
    public string? Id;

    public int Lines;
}

/// <summary>A legacy class with a member the new side's type does not have.</summary>
[Serializable]
public class Wider
{
    public int Id;

    public string? Extra;
}
