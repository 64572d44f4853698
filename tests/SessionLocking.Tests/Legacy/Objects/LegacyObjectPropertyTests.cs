namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>
/// Random carts (seeded) both ways through the real BinaryFormatter: whatever the values (text of any plane, decimals of
/// any scale, dates of each kind, empty and null collections, lines shared or not), what it wrote reads here equal, and
/// what is written here it reads back equal.
/// </summary>
public sealed class LegacyObjectPropertyTests
{
    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public void Random_carts_round_trip_both_ways(RedisSessionStateProviderFormat version)
    {
        var random = new Random(2121);
        for (var i = 0; i < 150; i++)
        {
            var legacy = RandomCart(random);
            var format = LegacyObjectFormatTests.Format(version);

            var read = (NewShop.Cart)format.Decode("cart", LegacyObjectFormatTests.Stored(version, LegacyOracle.Serialize(legacy)))!;
            LegacyShopAssert.Equal(legacy, read);

            var back = (LegacyShop.Cart)LegacyOracle.Deserialize(LegacyObjectFormatTests.Payload(version, format.Encode("cart", read, typeof(NewShop.Cart))));
            LegacyShopAssert.Equal(back, read);
        }
    }

    private static LegacyShop.Cart RandomCart(Random random)
    {
        var lines = Enumerable.Range(0, random.Next(0, 6)).Select(_ => new LegacyShop.CartLine
        {
            Sku = random.Next(5) == 0 ? null : Text(random),
            Quantity = random.Next(int.MinValue, int.MaxValue),
            Price = new decimal(random.Next(), random.Next(), random.Next(), random.Next(2) == 0, (byte)random.Next(0, 29)),
        }).ToList();
        if (lines.Count > 1 && random.Next(2) == 0)
        {
            lines.Add(lines[0]); // shared
        }

        var address = random.Next(3) == 0 ? null : new LegacyShop.Address { City = Text(random) };
        var kinds = new[] { DateTimeKind.Unspecified, DateTimeKind.Utc, DateTimeKind.Local };
        var cart = new LegacyShop.Cart
        {
            Id = random.Next(),
            Owner = random.Next(4) == 0 ? null : Text(random),
            cust = Text(random),
            Lines = lines,
            Counts = Enumerable.Range(0, random.Next(0, 4)).ToDictionary(k => "k" + k + Text(random), _ => random.Next()),
            Status = (LegacyShop.Status)random.Next(0, 3),
            Total = new decimal(random.Next(), random.Next(), random.Next(), random.Next(2) == 0, (byte)random.Next(0, 29)),
            Created = new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), kinds[random.Next(3)]),
            Updated = new DateTime(random.NextInt64(0, DateTime.MaxValue.Ticks), DateTimeKind.Utc),
            Token = RandomGuid(random),
            Age = TimeSpan.FromTicks(random.NextInt64(long.MinValue, long.MaxValue)),
            Paid = random.Next(2) == 0 ? null : new DateTime(random.NextInt64(0, DateTime.MaxValue.Ticks), kinds[random.Next(3)]),
            Points = random.Next(2) == 0 ? null : random.Next(),
            Scores = random.Next(3) == 0 ? null : Enumerable.Range(0, random.Next(0, 5)).Select(_ => random.Next()).ToArray(),
            Tags = random.Next(3) == 0 ? null : Enumerable.Range(0, random.Next(0, 4)).Select(_ => random.Next(3) == 0 ? null : Text(random)).ToArray(),
            Billing = address,
            Shipping = random.Next(2) == 0 ? address : new LegacyShop.Address { City = Text(random) },
            Location = new LegacyShop.Point { X = random.Next(), Y = -random.Next() },
            Note = random.Next(8) switch
            {
                0 => null,
                1 => Text(random),
                2 => random.NextDouble(),
                3 => new[] { new DateTime(random.NextInt64(0, DateTime.MaxValue.Ticks), kinds[random.Next(3)]) },
                4 => new[] { new decimal(random.NextDouble()), -1m },
                5 => new[] { TimeSpan.FromTicks(random.NextInt64()) },
                6 => new[] { RandomGuid(random) },
                _ => (object)random.NextInt64(),
            },
            ByToken = random.Next(2) == 0 || lines.Count == 0 ? null : new() { [RandomGuid(random)] = lines[0] },
            Saved = random.Next(2) == 0 ? null : [.. lines],
            Grade = (char)random.Next(0x20, 0xD7FF),
            Ratio = random.NextDouble() * double.MaxValue,
            Weight = (float)random.NextDouble(),
            Big = random.NextInt64(long.MinValue, long.MaxValue),
            Huge = (ulong)random.NextInt64() * 2,
            Small = (short)random.Next(short.MinValue, short.MaxValue),
            USmall = (ushort)random.Next(0, ushort.MaxValue),
            UInt = (uint)random.NextInt64(0, uint.MaxValue),
            Byte = (byte)random.Next(256),
            SByte = (sbyte)random.Next(-128, 128),
            Flag = random.Next(2) == 0,
        };
        if (address is not null && random.Next(2) == 0)
        {
            address.Cart = cart; // a cycle
        }

        return cart;
    }

    private static Guid RandomGuid(Random random)
    {
        var bytes = new byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes);
    }

    private static string Text(Random random)
    {
        var length = random.Next(0, 12);
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < length; i++)
        {
            text.Append(random.Next(4) switch
            {
                0 => char.ConvertFromUtf32(random.Next(0x1F600, 0x1F650)), // outside the BMP (a surrogate pair)
                1 => ((char)random.Next(0x80, 0x800)).ToString(),
                _ => ((char)random.Next(0x20, 0x7F)).ToString(),
            });
        }

        return text.ToString();
    }
}
