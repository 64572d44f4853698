using System.Text;
using SessionLocking.IntegrationTests.Infrastructure;
using SessionLocking.TestUtilities;
using StackExchange.Redis;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The sample's cart shared with a legacy application on Microsoft.Web.RedisSessionStateProvider (V5): the legacy side
/// (here: the real BinaryFormatter, enabled in this test project only, and the provider's collection layout) reads the
/// sample's cart as its own Shop.Models.Cart and changes it, and the sample shows and changes what it wrote.
/// </summary>
public sealed class LegacyProviderCartTests
{
    [Fact]
    public async Task The_samples_cart_is_shared_with_the_legacy_applications_BinaryFormatter_cart()
    {
        await using var redis = await RedisServer.StartAsync();
        using var app = SampleApp.WithHostSettings(new Dictionary<string, string>
        {
            ["SessionState:Mode"] = "RedisSessionStateProvider",
            ["SessionState:RedisSessionStateProvider:Configuration"] = redis.Configuration,
            ["SessionState:RedisSessionStateProvider:ApplicationName"] = "Shop",
            ["SessionState:RedisSessionStateProvider:LegacyAssembly"] = typeof(Shop.Models.Cart).Assembly.GetName().Name!,
        });
        var browser = app.NewBrowser();
        using (var added = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Apple"), ("quantity", "2")))
        {
            Assert.True(added.IsSuccessStatusCode || (int)added.StatusCode is >= 300 and < 400, added.StatusCode.ToString());
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = connection.GetDatabase();
        RedisKey key = $"{{Shop_{browser.SessionId}}}_SessionStateItemCollection";

        // The legacy side reads the sample's cart as its own class, and adds a line.
        var items = LegacyItems.Read((byte[])(await db.StringGetAsync(key))!);
        var cart = (Shop.Models.Cart)LegacyItems.Deserialize(items["cart"]);
        Assert.Equal("Apple", Assert.Single(cart.Lines).Product);
        Assert.Equal(2, cart.Lines[0].Quantity);
        cart.Lines.Add(new Shop.Models.CartLine { Product = "Pear", Quantity = 1 });
        items["cart"] = LegacyItems.Serialize(cart);
        Assert.True(await db.StringSetAsync(key, LegacyItems.Write(items), keepTtl: true));

        // The sample shows the legacy side's line and changes the cart in place.
        var page = await browser.GetStringAsync("/cart");
        Assert.Contains("Pear", page);
        using (await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Apple"), ("quantity", "1")))
        {
        }

        var after = (Shop.Models.Cart)LegacyItems.Deserialize(LegacyItems.Read((byte[])(await db.StringGetAsync(key))!)["cart"]);
        Assert.Equal([("Apple", 3), ("Pear", 1)], after.Lines.Select(l => (l.Product, l.Quantity)));
    }

    /// <summary>The provider's V5 collection (names, end offsets, AltSerialization values; objects as type 20 and BinaryFormatter).</summary>
    private static class LegacyItems
    {
        public static Dictionary<string, byte[]> Read(byte[] data)
        {
            var reader = new BinaryReader(new MemoryStream(data));
            var count = reader.ReadInt32();
            var items = new Dictionary<string, byte[]>();
            if (count == 0)
            {
                return items;
            }

            Assert.Equal(-1, reader.ReadInt32());
            var names = Enumerable.Range(0, count).Select(_ => reader.ReadString()).ToArray();
            var ends = Enumerable.Range(0, count).Select(_ => reader.ReadInt32()).ToArray();
            var start = 0;
            for (var i = 0; i < count; i++)
            {
                items[names[i]] = reader.ReadBytes(ends[i] - start);
                start = ends[i];
            }

            return items;
        }

        public static byte[] Write(Dictionary<string, byte[]> items)
        {
            var stream = new MemoryStream();
            var writer = new BinaryWriter(stream, Encoding.UTF8);
            writer.Write(items.Count);
            writer.Write(-1);
            foreach (var name in items.Keys)
            {
                writer.Write(name);
            }

            var end = 0;
            foreach (var value in items.Values)
            {
                writer.Write(end += value.Length);
            }

            foreach (var value in items.Values)
            {
                writer.Write(value);
            }

            return stream.ToArray();
        }

#pragma warning disable SYSLIB0011 // The legacy application's own serializer, as the oracle.
        public static object Deserialize(byte[] item)
        {
            Assert.Equal(20, item[0]);
            return new System.Runtime.Serialization.Formatters.Binary.BinaryFormatter().Deserialize(new MemoryStream(item, 1, item.Length - 1));
        }

        public static byte[] Serialize(object value)
        {
            var stream = new MemoryStream();
            stream.WriteByte(20);
            new System.Runtime.Serialization.Formatters.Binary.BinaryFormatter().Serialize(stream, value);
            return stream.ToArray();
        }
#pragma warning restore SYSLIB0011
    }
}
