using System.Reflection;
using System.Runtime.Loader;
using ItemFormat = SessionLocking.Redis.Legacy.RedisSessionStateProviderItemFormat;
using JsonValues = SessionLocking.Redis.Legacy.Utf8JsonValueSerializer;

namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>
/// Hostile and mistaken BinaryFormatter payloads: truncated, mutated, cyclic, with huge declared lengths, naming types
/// that are not mapped, a mapped name with members of other types. Each read either gives mapped objects or fails with
/// a <see cref="SessionSerializationException"/> naming the item, loads no type, and allocates a bounded amount.
/// </summary>
public sealed class LegacyObjectHostileTests
{
    private const long AllocationBound = 64L * 1024 * 1024;
    private static readonly RedisSessionStateProviderFormat V5 = RedisSessionStateProviderFormat.V5;

    [Fact]
    public void An_unmapped_type_fails_naming_the_item_and_MapLegacyType_and_loads_no_type()
    {
        var options = new RedisSessionStateProviderStoreOptions();
        options.MapLegacyType<NewShop.Narrow>("Other.Type, Other");
        var format = new ItemFormat(Microsoft.Extensions.Options.Options.Create(options), JsonValues.Instance);
        var resolving = 0;
        // Process-wide events (other tests run in parallel): only the names the payloads carry count.
        Func<AssemblyLoadContext, AssemblyName, Assembly?> onResolving = (_, name) =>
        {
            if (name.Name is "Hostile.Payload" or "SessionLocking.Tests" or "Other")
            {
                Interlocked.Increment(ref resolving);
            }

            return null;
        };
        ResolveEventHandler onResolve = (_, args) =>
        {
            if (args.Name.StartsWith("Hostile.Payload", StringComparison.Ordinal) || args.Name.StartsWith("Other", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref resolving);
            }

            return null;
        };
        AssemblyLoadContext.Default.Resolving += onResolving;
        AppDomain.CurrentDomain.AssemblyResolve += onResolve;
        try
        {
            var hostile = Assert.Throws<SessionSerializationException>(() => format.Decode("gadget", [20, .. ClassPayload("Hostile.Payload.Gadget", "Hostile.Payload, Version=6.6.6.6")]));
            var unmapped = Assert.Throws<SessionSerializationException>(() => format.Decode("cart", [20, .. LegacyOracle.Serialize(LegacyOracle.SampleCart())], typeof(NewShop.Cart)));

            Assert.Equal("gadget", hostile.Key);
            Assert.Contains("'gadget'", hostile.Message);
            Assert.Contains("MapLegacyType<T>(\"Hostile.Payload.Gadget, Hostile.Payload\")", hostile.Message);
            Assert.Equal("cart", unmapped.Key);
            Assert.Contains("MapLegacyType<T>(\"LegacyShop.Cart, SessionLocking.Tests\")", unmapped.Message);
            Assert.Equal(0, resolving);
            Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "Hostile.Payload");
        }
        finally
        {
            AssemblyLoadContext.Default.Resolving -= onResolving;
            AppDomain.CurrentDomain.AssemblyResolve -= onResolve;
        }
    }

    [Fact]
    public void A_nested_unmapped_type_is_named_with_where_it_is()
    {
        var format = LegacyObjectFormatTests.Format(V5, o => o.MapLegacyType<NewShop.Narrow>("LegacyShop.Wider, SessionLocking.Tests"));
        var options = new RedisSessionStateProviderStoreOptions();
        options.MapLegacyType<NewShop.Cart>("LegacyShop.Cart, SessionLocking.Tests");
        var onlyCart = new ItemFormat(Microsoft.Extensions.Options.Options.Create(options), JsonValues.Instance);

        var error = Assert.Throws<SessionSerializationException>(() => onlyCart.Decode("cart", [20, .. LegacyOracle.Serialize(LegacyOracle.SampleCart())]));

        Assert.Equal("cart", error.Key);
        Assert.Contains("at Lines: ", error.Message);
        Assert.Contains("MapLegacyType<T>(\"LegacyShop.CartLine, SessionLocking.Tests\")", error.Message);
        Assert.NotNull(format);
    }

    [Fact]
    public void A_mapped_name_whose_members_are_of_other_types_fails_naming_the_item_and_the_member()
    {
        var options = new RedisSessionStateProviderStoreOptions();
        options.MapLegacyType<NewShop.Cart>("LegacyShop.Impostor, SessionLocking.Tests");
        var format = new ItemFormat(Microsoft.Extensions.Options.Options.Create(options), JsonValues.Instance);

        var error = Assert.Throws<SessionSerializationException>(() => format.Decode("cart", [20, .. LegacyOracle.Serialize(new LegacyShop.Impostor { Id = "x", Lines = 3 })]));

        Assert.Equal("cart", error.Key);
        Assert.Contains("at Id: the data holds a 'System.String' where the mapped type has a 'System.Int32'", error.Message);
    }

    [Fact]
    public void Every_truncation_of_a_payload_fails_naming_the_item()
    {
        var format = LegacyObjectFormatTests.Format(V5);
        var payload = LegacyOracle.Serialize(LegacyOracle.SampleCart());

        for (var length = 0; length < payload.Length; length++)
        {
            AssertRejectedOrRead(format, "cart", [20, .. payload.AsSpan(0, length)], mustFail: true);
        }
    }

    [Fact]
    public void Mutated_payloads_read_or_fail_naming_the_item_with_bounded_memory()
    {
        var format = LegacyObjectFormatTests.Format(V5);
        var payload = LegacyOracle.Serialize(LegacyOracle.SampleCart());
        var random = new Random(21);
        for (var i = 0; i < 3000; i++)
        {
            var mutated = payload.ToList();
            for (var flips = random.Next(1, 5); flips > 0; flips--)
            {
                var at = random.Next(mutated.Count);
                switch (random.Next(4))
                {
                    case 0: mutated[at] = (byte)random.Next(256); break;
                    case 1: mutated.RemoveAt(at); break;
                    case 2: mutated.Insert(at, (byte)random.Next(256)); break;
                    default: mutated[at] = (byte)(random.Next(2) == 0 ? 0xFF : 0x7F); break; // huge lengths and counts
                }
            }

            AssertRejectedOrRead(format, "cart", [20, .. mutated], mustFail: false);
        }
    }

    [Fact]
    public void Huge_declared_lengths_fail_without_allocating_them()
    {
        var format = LegacyObjectFormatTests.Format(V5);
        byte[][] payloads =
        [
            Payload(w => { w.Write((byte)15); w.Write(1); w.Write(int.MaxValue); w.Write((byte)8); w.Write(7); }), // Int32[int.MaxValue], 4 bytes of data
            Payload(w => { w.Write((byte)16); w.Write(1); w.Write(int.MaxValue); w.Write((byte)14); w.Write(int.MaxValue); }), // object[int.MaxValue] of nulls
            Payload(w => { w.Write((byte)16); w.Write(1); w.Write(200_000); w.Write((byte)14); w.Write(200_000); }), // over MaxLegacyObjectElements
            Payload(w => { w.Write((byte)6); w.Write(1); w.Write7BitEncodedInt(int.MaxValue); w.Write((byte)'a'); }), // a string of 2 GB
            ListPayload(size: int.MaxValue, items: 1),
        ];

        foreach (var payload in payloads)
        {
            AssertRejectedOrRead(format, "huge", [20, .. payload], mustFail: true);
        }
    }

    [Fact]
    public void Cycles_are_closed_or_refused_never_followed()
    {
        var format = LegacyObjectFormatTests.Format(V5);

        // An object[] that holds itself.
        var self = Assert.IsType<object[]>(format.Decode("self", [20, .. Payload(w => { w.Write((byte)16); w.Write(1); w.Write(1); w.Write((byte)9); w.Write(1); })]));
        Assert.Same(self, self[0]);

        // A cart whose Billing is the cart itself: of another type than the member.
        var cart = LegacyOracle.SampleCart();
        var error = Assert.Throws<SessionSerializationException>(() => format.Decode("cart", [20, .. Retarget(LegacyOracle.Serialize(cart))]));
        Assert.Equal("cart", error.Key);

        // Nesting deeper than the limit.
        object nested = new object[] { 1 };
        for (var i = 0; i < 100; i++)
        {
            nested = new object[] { nested };
        }

        var deep = Assert.Throws<SessionSerializationException>(() => format.Decode("deep", [20, .. LegacyOracle.Serialize(nested)]));
        Assert.Contains("MaxLegacyObjectDepth", deep.Message);
    }

    [Fact]
    public void A_payload_over_the_size_limit_is_not_decoded()
    {
        var format = LegacyObjectFormatTests.Format(V5, o => o.MaxLegacyObjectBytes = 100);

        var error = Assert.Throws<SessionSerializationException>(() => format.Decode("cart", [20, .. LegacyOracle.Serialize(LegacyOracle.SampleCart())]));

        Assert.Contains("MaxLegacyObjectBytes", error.Message);
    }

    [Fact]
    public void A_shape_that_cannot_be_written_faithfully_fails_naming_the_item_the_type_and_the_member()
    {
        var format = LegacyObjectFormatTests.Format(V5, o =>
        {
            o.MapLegacyType<NewShop.Narrow>("LegacyShop.Wider, SessionLocking.Tests");
            o.MapLegacyType<NewShop.WithSet>("LegacyShop.WithSet, SessionLocking.Tests");
        });
        var narrow = Assert.IsType<NewShop.Narrow>(format.Decode("w", [20, .. LegacyOracle.Serialize(new LegacyShop.Wider { Id = 5, Extra = "kept only there" })]));
        Assert.Equal(5, narrow.Id);

        var lost = Assert.Throws<SessionSerializationException>(() => format.Encode("w", narrow, typeof(NewShop.Narrow)));
        var unsupported = Assert.Throws<SessionSerializationException>(() => format.Encode("s", new NewShop.WithSet(), typeof(NewShop.WithSet)));

        Assert.Equal("w", lost.Key);
        Assert.Equal("NewShop.Narrow", lost.TypeName);
        Assert.Contains("'Extra'", lost.Message);
        Assert.Equal("s", unsupported.Key);
        Assert.Contains("'Set'", unsupported.Message);
        Assert.Contains("HashSet", unsupported.Message);
    }

    private static void AssertRejectedOrRead(ItemFormat format, string item, byte[] stored, bool mustFail)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            format.Decode(item, stored);
            Assert.False(mustFail, $"a payload of {stored.Length} bytes was read");
        }
        catch (SessionSerializationException ex)
        {
            Assert.Equal(item, ex.Key);
            Assert.Contains($"'{item}'", ex.Message);
        }

        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, AllocationBound);
    }

    /// <summary>The serialization header (root 1), the records <paramref name="body"/> writes, MessageEnd.</summary>
    private static byte[] Payload(Action<BinaryWriter> body)
    {
        var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write((byte)0);
        w.Write(1);
        w.Write(-1);
        w.Write(1);
        w.Write(0);
        body(w);
        w.Write((byte)11);
        return stream.ToArray();
    }

    /// <summary>A class record of a library: object 1 with one Int32 member.</summary>
    private static byte[] ClassPayload(string type, string library) => Payload(w =>
    {
        w.Write((byte)12);
        w.Write(2);
        w.Write(library);
        w.Write((byte)5);
        w.Write(1);
        w.Write(type);
        w.Write(1);
        w.Write("value");
        w.Write((byte)0);
        w.Write((byte)8);
        w.Write(2);
        w.Write(1);
    });

    /// <summary>A List&lt;int&gt; whose _size says <paramref name="size"/> and whose _items holds <paramref name="items"/>.</summary>
    private static byte[] ListPayload(int size, int items) => Payload(w =>
    {
        w.Write((byte)4);
        w.Write(1);
        w.Write("System.Collections.Generic.List`1[[System.Int32, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]");
        w.Write(3);
        w.Write("_items");
        w.Write("_size");
        w.Write("_version");
        w.Write((byte)7);
        w.Write((byte)0);
        w.Write((byte)0);
        w.Write((byte)8);
        w.Write((byte)8);
        w.Write((byte)8);
        w.Write((byte)9);
        w.Write(2);
        w.Write(size);
        w.Write(0);
        w.Write((byte)15);
        w.Write(2);
        w.Write(items);
        w.Write((byte)8);
        for (var i = 0; i < items; i++)
        {
            w.Write(i);
        }
    });

    /// <summary>The payload with the Billing member's reference pointed at the root (the cart itself).</summary>
    private static byte[] Retarget(byte[] payload)
    {
        var root = (System.Formats.Nrbf.ClassRecord)System.Formats.Nrbf.NrbfDecoder.Decode(new MemoryStream(payload));
        var billing = root.GetClassRecord("Billing")!;
        var id = BitConverter.GetBytes(IdOf(billing));
        byte[] reference = [9, .. id];
        var at = payload.AsSpan().IndexOf(reference);
        Assert.True(at > 0);
        var result = payload.ToArray();
        BitConverter.GetBytes(1).CopyTo(result, at + 1);
        return result;
    }

    private static int IdOf(System.Formats.Nrbf.SerializationRecord record) =>
        (int)typeof(System.Formats.Nrbf.SerializationRecordId).GetField("_id", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(record.Id)!;
}
