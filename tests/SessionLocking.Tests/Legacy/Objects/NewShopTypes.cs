namespace NewShop;

// The new application's types for the legacy ones (mapped with MapLegacyType): properties where the legacy class had
// fields, one renamed member (cust -> CustomerName).

public sealed class Cart
{
    public int Id { get; set; }

    public string? Owner { get; set; }

    public string? CustomerName { get; set; }

    public List<CartLine> Lines { get; set; } = [];

    public Dictionary<string, int> Counts { get; set; } = [];

    public Status Status { get; set; }

    public decimal Total { get; set; }

    public DateTime Created { get; set; }

    public DateTime Updated { get; set; }

    public Guid Token { get; set; }

    public TimeSpan Age { get; set; }

    public DateTime? Paid { get; set; }

    public int? Points { get; set; }

    public int[]? Scores { get; set; }

    public string?[]? Tags { get; set; }

    public Address? Billing { get; set; }

    public Address? Shipping { get; set; }

    public Point Location { get; set; }

    public object? Note { get; set; }

    public Dictionary<Guid, CartLine>? ByToken { get; set; }

    public CartLine[]? Saved { get; set; }

    public char Grade { get; set; }

    public double Ratio { get; set; }

    public float Weight { get; set; }

    public long Big { get; set; }

    public ulong Huge { get; set; }

    public short Small { get; set; }

    public ushort USmall { get; set; }

    public uint UInt { get; set; }

    public byte Byte { get; set; }

    public sbyte SByte { get; set; }

    public bool Flag { get; set; }
}

public sealed class CartLine
{
    public string? Sku { get; set; }

    public int Quantity { get; set; }

    public decimal Price { get; set; }
}

public sealed class Address
{
    public string? City { get; set; }

    public Cart? Cart { get; set; }
}

public struct Point
{
    public int X { get; set; }

    public int Y { get; set; }
}

public enum Status
{
    New,
    Paid,
    Shipped,
}

/// <summary>Knows only Id of the legacy Wider.</summary>
public sealed class Narrow
{
    public int Id { get; set; }
}

/// <summary>Has a member of a type the legacy format cannot carry here.</summary>
public sealed class WithSet
{
    public HashSet<int> Set { get; set; } = [1];
}
