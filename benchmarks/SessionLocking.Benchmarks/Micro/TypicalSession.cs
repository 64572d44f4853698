using Microsoft.Extensions.Options;
using SessionLocking.Serialization;

namespace SessionLocking.Benchmarks.Micro;

/// <summary>A shopping cart, the classic mutable object kept in session.</summary>
public sealed class Cart
{
    public Guid Id { get; set; }

    public string Currency { get; set; } = "EUR";

    public List<CartLine> Lines { get; set; } = new();
}

public sealed class CartLine
{
    public string Sku { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public int Quantity { get; set; }

    public decimal Price { get; set; }
}

/// <summary>
/// A typical session: a user name, a visit counter, a last-seen time, a Guid, a cart with five lines (allowed for
/// the object API) and 64 raw bytes written through ISession. About 700 bytes serialized.
/// </summary>
internal static class TypicalSession
{
    public static LockedSessionOptions Options()
    {
        var options = new LockedSessionOptions();
        options.AllowType<Cart>("cart");
        return options;
    }

    public static SessionValueCodec Codec(LockedSessionOptions options)
    {
        var wrapped = Microsoft.Extensions.Options.Options.Create(options);
        return new SessionValueCodec(new JsonSessionValueSerializer(wrapped), wrapped);
    }

    public static Cart Cart() => new()
    {
        Id = Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
        Lines = Enumerable.Range(1, 5).Select(i => new CartLine
        {
            Sku = "SKU-" + (1000 + i),
            Name = "Product number " + i + " with a longer display name",
            Quantity = i,
            Price = 9.99m * i,
        }).ToList(),
    };

    /// <summary>The values, by name, with the type each is stored as.</summary>
    public static (string Name, object Value, Type Type)[] Values() =>
    [
        ("user", "jane.doe@example.com", typeof(string)),
        ("visits", 42, typeof(int)),
        ("lastSeen", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), typeof(DateTimeOffset)),
        ("tenant", Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"), typeof(Guid)),
        ("cart", Cart(), typeof(Cart)),
    ];

    /// <summary>The session as a store would load it.</summary>
    public static SessionData Stored(SessionValueCodec codec)
    {
        var items = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value, type) in Values())
        {
            items[name] = codec.EncodeTyped(name, value, type);
        }

        var token = new byte[64];
        new Random(1).NextBytes(token);
        items["token"] = SessionValueCodec.EncodeRaw(token);
        return new SessionData(items, TimeSpan.FromMinutes(20));
    }
}
