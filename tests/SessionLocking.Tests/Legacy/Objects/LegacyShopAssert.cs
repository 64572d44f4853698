namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>Equal values, member by member, between a classic cart and the new side's one (and the same sharing).</summary>
internal static class LegacyShopAssert
{
    public static void Equal(LegacyShop.Cart legacy, NewShop.Cart cart)
    {
        Assert.Equal(legacy.Id, cart.Id);
        Assert.Equal(legacy.Owner, cart.Owner);
        Assert.Equal(legacy.cust, cart.CustomerName);
        Assert.Equal(legacy.Lines.Count, cart.Lines.Count);
        for (var i = 0; i < legacy.Lines.Count; i++)
        {
            Equal(legacy.Lines[i], cart.Lines[i]);
        }

        Assert.Equal(legacy.Counts, cart.Counts);
        Assert.Equal((int)legacy.Status, (int)cart.Status);
        Assert.Equal(legacy.Total, cart.Total);
        Assert.Equal(legacy.Created, cart.Created);
        Assert.Equal(legacy.Created.Kind, cart.Created.Kind);
        Assert.Equal(legacy.Updated, cart.Updated);
        Assert.Equal(legacy.Updated.Kind, cart.Updated.Kind);
        Assert.Equal(legacy.Token, cart.Token);
        Assert.Equal(legacy.Age, cart.Age);
        Assert.Equal(legacy.Paid, cart.Paid);
        Assert.Equal(legacy.Paid?.Kind, cart.Paid?.Kind);
        Assert.Equal(legacy.Points, cart.Points);
        Assert.Equal(legacy.Scores, cart.Scores);
        Assert.Equal(legacy.Tags, cart.Tags);
        Assert.Equal(legacy.Billing?.City, cart.Billing?.City);
        Assert.Equal(legacy.Shipping?.City, cart.Shipping?.City);
        Assert.Equal(ReferenceEquals(legacy.Billing, legacy.Shipping), ReferenceEquals(cart.Billing, cart.Shipping));
        Assert.Equal(ReferenceEquals(legacy.Billing?.Cart, legacy), ReferenceEquals(cart.Billing?.Cart, cart));
        Assert.Equal(legacy.Location.X, cart.Location.X);
        Assert.Equal(legacy.Location.Y, cart.Location.Y);
        Assert.Equal(legacy.Note, cart.Note);
        Assert.Equal(legacy.ByToken?.Keys, cart.ByToken?.Keys);
        if (legacy.ByToken is not null)
        {
            foreach (var (key, line) in legacy.ByToken)
            {
                Equal(line, cart.ByToken![key]);
                Assert.Equal(ReferenceEquals(line, legacy.Lines[0]), ReferenceEquals(cart.ByToken[key], cart.Lines[0]));
            }
        }

        Assert.Equal(legacy.Saved?.Length, cart.Saved?.Length);
        for (var i = 0; i < (legacy.Saved?.Length ?? 0); i++)
        {
            Equal(legacy.Saved![i], cart.Saved![i]);
        }

        if (legacy.Lines.Count > 2)
        {
            Assert.Equal(ReferenceEquals(legacy.Lines[0], legacy.Lines[2]), ReferenceEquals(cart.Lines[0], cart.Lines[2]));
        }

        Assert.Equal(legacy.Grade, cart.Grade);
        Assert.Equal(legacy.Ratio, cart.Ratio);
        Assert.Equal(legacy.Weight, cart.Weight);
        Assert.Equal(legacy.Big, cart.Big);
        Assert.Equal(legacy.Huge, cart.Huge);
        Assert.Equal(legacy.Small, cart.Small);
        Assert.Equal(legacy.USmall, cart.USmall);
        Assert.Equal(legacy.UInt, cart.UInt);
        Assert.Equal(legacy.Byte, cart.Byte);
        Assert.Equal(legacy.SByte, cart.SByte);
        Assert.Equal(legacy.Flag, cart.Flag);
    }

    public static void Equal(LegacyShop.CartLine? legacy, NewShop.CartLine? line)
    {
        Assert.Equal(legacy is null, line is null);
        Assert.Equal(legacy?.Sku, line?.Sku);
        Assert.Equal(legacy?.Quantity, line?.Quantity);
        Assert.Equal(legacy?.Price, line?.Price);
    }

    /// <summary>The new side's cart of the same values as <see cref="LegacyOracle.SampleCart"/>.</summary>
    public static NewShop.Cart SampleCart()
    {
        var address = new NewShop.Address { City = "Zürich" };
        var line = new NewShop.CartLine { Sku = "A-1", Quantity = 2, Price = 19.90m };
        var legacy = LegacyOracle.SampleCart();
        var cart = new NewShop.Cart
        {
            Id = legacy.Id,
            Owner = legacy.Owner,
            CustomerName = legacy.cust,
            Lines = [line, new NewShop.CartLine { Sku = "B-2", Quantity = 1, Price = -0.0001m }, line],
            Counts = new(legacy.Counts),
            Status = NewShop.Status.Paid,
            Total = legacy.Total,
            Created = legacy.Created,
            Updated = legacy.Updated,
            Token = legacy.Token,
            Age = legacy.Age,
            Paid = legacy.Paid,
            Points = legacy.Points,
            Scores = legacy.Scores,
            Tags = legacy.Tags,
            Billing = address,
            Shipping = address,
            Location = new NewShop.Point { X = 3, Y = -4 },
            Note = legacy.Note,
            ByToken = new() { [legacy.ByToken!.Keys.Single()] = line },
            Saved = [line, null!],
            Grade = legacy.Grade,
            Ratio = legacy.Ratio,
            Weight = legacy.Weight,
            Big = legacy.Big,
            Huge = legacy.Huge,
            Small = legacy.Small,
            USmall = legacy.USmall,
            UInt = legacy.UInt,
            Byte = legacy.Byte,
            SByte = legacy.SByte,
            Flag = legacy.Flag,
        };
        address.Cart = cart;
        return cart;
    }
}
