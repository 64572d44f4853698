using System.Runtime.Serialization.Formatters.Binary;

namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>
/// The real BinaryFormatter (System.Runtime.Serialization.Formatters, enabled in this test project only): the classic
/// application's serializer, the oracle of what the store reads and writes.
/// </summary>
internal static class LegacyOracle
{
#pragma warning disable SYSLIB0011 // The oracle is BinaryFormatter itself, on data the tests made.
    public static byte[] Serialize(object value)
    {
        using var stream = new MemoryStream();
        new BinaryFormatter().Serialize(stream, value);
        return stream.ToArray();
    }

    public static object Deserialize(byte[] payload)
    {
        using var stream = new MemoryStream(payload);
        var value = new BinaryFormatter().Deserialize(stream);
        Assert.Equal(payload.Length, stream.Position);
        return value;
    }
#pragma warning restore SYSLIB0011

    /// <summary>A classic cart with every supported kind of member, a shared reference and a cycle.</summary>
    public static LegacyShop.Cart SampleCart()
    {
        var address = new LegacyShop.Address { City = "Zürich" };
        var line = new LegacyShop.CartLine { Sku = "A-1", Quantity = 2, Price = 19.90m };
        var cart = new LegacyShop.Cart
        {
            Id = 42,
            Owner = "ada",
            cust = "Ada Lovelace",
            Lines = [line, new LegacyShop.CartLine { Sku = "B-2", Quantity = 1, Price = -0.0001m }, line],
            Counts = new() { ["a"] = 1, ["b"] = 2 },
            Status = LegacyShop.Status.Paid,
            Total = 79228162514264337593543950335m,
            Created = new DateTime(2024, 2, 29, 13, 14, 15, DateTimeKind.Utc).AddTicks(1234567 % 10000),
            Updated = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Unspecified),
            Token = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"),
            Age = TimeSpan.FromTicks(-123456789),
            Paid = new DateTime(2026, 12, 4, 0, 0, 0, DateTimeKind.Local),
            Points = null,
            Scores = [1, -2, int.MaxValue],
            Tags = ["x", null, "ünï"],
            Billing = address,
            Shipping = address,
            Location = new LegacyShop.Point { X = 3, Y = -4 },
            Note = 12.5,
            ByToken = new() { [Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff")] = line },
            Saved = [line, null!],
            Grade = 'é',
            Ratio = Math.PI,
            Weight = 1.5f,
            Big = long.MinValue,
            Huge = ulong.MaxValue,
            Small = short.MinValue,
            USmall = ushort.MaxValue,
            UInt = uint.MaxValue,
            Byte = 255,
            SByte = -128,
            Flag = true,
        };
        address.Cart = cart;
        return cart;
    }

    /// <summary>The mappings of the NewShop types to the LegacyShop names.</summary>
    /// <remarks>
    /// The legacy classes' plain fields are named too (MapMember(name, name)): a type whose legacy data this process has
    /// not read yet is written with the names BinaryFormatter gives the .NET type's own members (an auto-property's
    /// backing field), so a legacy field needs its name said once.
    /// </remarks>
    public static void Map(RedisSessionStateProviderStoreOptions options)
    {
        var cart = options.MapLegacyType<NewShop.Cart>("LegacyShop.Cart, SessionLocking.Tests").MapMember("cust", nameof(NewShop.Cart.CustomerName));
        foreach (var field in typeof(LegacyShop.Cart).GetFields())
        {
            if (field.Name != "cust")
            {
                cart.MapMember(field.Name, field.Name);
            }
        }

        options.MapLegacyType<NewShop.CartLine>("LegacyShop.CartLine, SessionLocking.Tests");
        options.MapLegacyType<NewShop.Address>("LegacyShop.Address, SessionLocking.Tests").MapMember("City", "City").MapMember("Cart", "Cart");
        options.MapLegacyType<NewShop.Point>("LegacyShop.Point, SessionLocking.Tests").MapMember("X", "X").MapMember("Y", "Y");
        options.MapLegacyType<NewShop.Status>("LegacyShop.Status, SessionLocking.Tests");
    }
}
