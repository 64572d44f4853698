using System.Formats.Nrbf;
using Microsoft.Extensions.Options;
using SessionLocking.Redis.Legacy;

namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>
/// The classic application's BinaryFormatter objects in the item format of the store, with the real BinaryFormatter as
/// the oracle both ways: what it wrote reads here as the mapped types with equal values, and what is written here it
/// reads back as its own classes with equal values.
/// </summary>
public sealed class LegacyObjectFormatTests
{
    internal static RedisSessionStateProviderItemFormat Format(RedisSessionStateProviderFormat format, Action<RedisSessionStateProviderStoreOptions>? configure = null)
    {
        var options = new RedisSessionStateProviderStoreOptions { Format = format, ApplicationName = "objects" };
        LegacyOracle.Map(options);
        configure?.Invoke(options);
        return new RedisSessionStateProviderItemFormat(Options.Create(options), Utf8JsonValueSerializer.Instance);
    }

    /// <summary>How the classic side stores a BinaryFormatter payload: V5 an Object item (type byte 20), V4 the hash value itself.</summary>
    internal static byte[] Stored(RedisSessionStateProviderFormat format, byte[] payload) =>
        format == RedisSessionStateProviderFormat.V5 ? [20, .. payload] : payload;

    internal static byte[] Payload(RedisSessionStateProviderFormat format, byte[] stored)
    {
        if (format == RedisSessionStateProviderFormat.V4)
        {
            return stored;
        }

        Assert.Equal(20, stored[0]);
        return stored[1..];
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public void What_BinaryFormatter_wrote_reads_as_the_mapped_types_with_equal_values(RedisSessionStateProviderFormat version)
    {
        var legacy = LegacyOracle.SampleCart();
        var stored = Stored(version, LegacyOracle.Serialize(legacy));
        var format = Format(version);

        var untyped = Assert.IsType<NewShop.Cart>(format.Decode("cart", stored));
        var typed = Assert.IsType<NewShop.Cart>(format.Decode("cart", stored, typeof(NewShop.Cart)));

        LegacyShopAssert.Equal(legacy, untyped);
        LegacyShopAssert.Equal(legacy, typed);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public void What_is_written_here_BinaryFormatter_reads_as_the_legacy_classes_with_equal_values(RedisSessionStateProviderFormat version)
    {
        var format = Format(version);
        var cart = LegacyShopAssert.SampleCart();

        Assert.True(format.CanStore(typeof(NewShop.Cart)));
        var stored = format.Encode("cart", cart, typeof(NewShop.Cart));

        var legacy = Assert.IsType<LegacyShop.Cart>(LegacyOracle.Deserialize(Payload(version, stored)));
        LegacyShopAssert.Equal(legacy, cart);
        Assert.Equal(LegacyOracle.SampleCart().Paid, legacy.Paid);

        // BinaryFormatter leaves a member it does not find at its default, silently: the records must carry exactly the
        // members (names and order) that it writes for the legacy classes itself.
        var ours = (ClassRecord)NrbfDecoder.Decode(new MemoryStream(Payload(version, stored)));
        var theirs = (ClassRecord)NrbfDecoder.Decode(new MemoryStream(LegacyOracle.Serialize(LegacyOracle.SampleCart())));
        Assert.Equal(theirs.MemberNames, ours.MemberNames);
        Assert.Equal(theirs.TypeName.FullName, ours.TypeName.FullName);
        Assert.Equal("SessionLocking.Tests", ours.TypeName.AssemblyName!.FullName); // never read here: the mapping's name
        Assert.Equal(theirs.GetClassRecord("Billing")!.MemberNames, ours.GetClassRecord("Billing")!.MemberNames);
        Assert.Equal(((ClassRecord)((SZArrayRecord<SerializationRecord>)theirs.GetClassRecord("<Lines>k__BackingField")!.GetArrayRecord("_items")!).GetArray()[0]!).MemberNames,
            ((ClassRecord)((SZArrayRecord<SerializationRecord>)ours.GetClassRecord("<Lines>k__BackingField")!.GetArrayRecord("_items")!).GetArray()[0]!).MemberNames);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public void A_legacy_object_read_changed_and_written_back_reads_in_BinaryFormatter_with_the_change(RedisSessionStateProviderFormat version)
    {
        var format = Format(version);
        var cart = (NewShop.Cart)format.Decode("cart", Stored(version, LegacyOracle.Serialize(LegacyOracle.SampleCart())))!;
        var unchanged = format.Encode("cart", cart, typeof(NewShop.Cart));
        Assert.Equal(unchanged, format.Encode("cart", cart, typeof(NewShop.Cart))); // deterministic: an unchanged object is not written

        cart.Lines.Add(new NewShop.CartLine { Sku = "C-3", Quantity = 7, Price = 1m });
        cart.Counts["c"] = 3;
        cart.Status = NewShop.Status.Shipped;
        cart.Billing!.City = "Basel";
        var legacy = (LegacyShop.Cart)LegacyOracle.Deserialize(Payload(version, format.Encode("cart", cart, typeof(NewShop.Cart))));

        LegacyShopAssert.Equal(legacy, cart);
        Assert.Equal(typeof(LegacyShop.Cart).Assembly.FullName, ((ClassRecord)NrbfDecoder.Decode(new MemoryStream(Payload(version, format.Encode("cart", cart, typeof(NewShop.Cart)))))).TypeName.AssemblyName!.FullName); // the names the item had
        Assert.Equal("C-3", legacy.Lines[3].Sku);
        Assert.Same(legacy.Billing, legacy.Shipping);
        Assert.Equal("Basel", legacy.Shipping!.City);
        Assert.Same(legacy, legacy.Billing!.Cart);
    }

    [Fact]
    public void Lists_arrays_and_dictionaries_of_mapped_types_are_legacy_objects_too()
    {
        var format = Format(RedisSessionStateProviderFormat.V5);
        List<NewShop.CartLine> lines = [new() { Sku = "A", Quantity = 1, Price = 2m }];
        var byName = new Dictionary<string, NewShop.Status> { ["x"] = NewShop.Status.Shipped };

        var legacyLines = Assert.IsType<List<LegacyShop.CartLine>>(LegacyOracle.Deserialize(Payload(RedisSessionStateProviderFormat.V5, format.Encode("lines", lines, lines.GetType()))));
        var legacyByName = Assert.IsType<Dictionary<string, LegacyShop.Status>>(LegacyOracle.Deserialize(Payload(RedisSessionStateProviderFormat.V5, format.Encode("byName", byName, byName.GetType()))));

        Assert.Equal("A", Assert.Single(legacyLines).Sku);
        Assert.Equal(LegacyShop.Status.Shipped, legacyByName["x"]);
        var back = Assert.IsType<List<NewShop.CartLine>>(format.Decode("lines", Stored(RedisSessionStateProviderFormat.V5, LegacyOracle.Serialize(legacyLines))));
        Assert.Equal(2m, Assert.Single(back).Price);
        Assert.Equal(NewShop.Status.Shipped, Assert.IsType<Dictionary<string, NewShop.Status>>(format.Decode("byName", Stored(RedisSessionStateProviderFormat.V5, LegacyOracle.Serialize(legacyByName))))["x"]);
    }

    [Fact]
    public void V4_reads_BinaryFormatter_primitives_whatever_the_value_serializer()
    {
        var format = Format(RedisSessionStateProviderFormat.V4);

        Assert.Equal(41, format.Decode("counter", LegacyOracle.Serialize(41)));
        Assert.Equal("Ada", format.Decode("name", LegacyOracle.Serialize("Ada"), typeof(string)));
        Assert.Equal("42"u8.ToArray(), format.Encode("counter", 42, typeof(int))); // a primitive stays in the configured serializer's format

        // Another value serializer changes nothing for BinaryFormatter streams and mapped objects.
        var custom = Format(RedisSessionStateProviderFormat.V4, o => o.ValueSerializer = new RefusingSerializer());
        Assert.Equal(41, custom.Decode("counter", LegacyOracle.Serialize(41)));
        var cart = Assert.IsType<NewShop.Cart>(custom.Decode("cart", LegacyOracle.Serialize(LegacyOracle.SampleCart()), typeof(NewShop.Cart)));
        Assert.IsType<LegacyShop.Cart>(LegacyOracle.Deserialize(custom.Encode("cart", cart, typeof(NewShop.Cart))));
    }

    private sealed class RefusingSerializer : ISessionValueSerializer
    {
        public byte[] Serialize(object? value, Type type) => throw new InvalidOperationException("not for legacy objects");

        public object? Deserialize(ReadOnlySpan<byte> data, Type type) => throw new InvalidOperationException("not for legacy objects");
    }
}
