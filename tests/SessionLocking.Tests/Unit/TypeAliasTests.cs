using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using Microsoft.Extensions.Options;
using SessionLocking.Serialization;

namespace SessionLocking.Tests.Unit;

/// <summary>
/// A deployment never makes stored values unreadable (issue 17, item 1b). On 005cd90 the default alias of a generic type
/// was its <see cref="Type.FullName"/>, which names its arguments with their assembly versions: after a build that only
/// bumped <c>AssemblyVersion</c>, every <c>List&lt;Cart&gt;</c> stored before failed with "not allowed".
/// </summary>
public sealed class TypeAliasTests
{
    public sealed class Cart
    {
        public List<string> Items { get; set; } = [];
    }

    [Fact]
    public void The_alias_of_a_generic_type_of_the_applications_own_types_is_the_same_across_builds_with_different_versions()
    {
        var build1 = ShopBuild(new Version(1, 0, 0, 0));
        var build2 = ShopBuild(new Version(1, 0, 1, 0));
        Assert.NotEqual(build1.AssemblyQualifiedName, build2.AssemblyQualifiedName);

        foreach (var shape in new Func<Type, Type>[]
        {
            cart => typeof(List<>).MakeGenericType(cart),
            cart => typeof(Dictionary<,>).MakeGenericType(typeof(string), cart),
            cart => typeof(List<>).MakeGenericType(typeof(KeyValuePair<,>).MakeGenericType(typeof(int), cart.MakeArrayType())),
        })
        {
            var alias1 = DefaultAlias(shape(build1));
            var alias2 = DefaultAlias(shape(build2));

            Assert.Equal(alias1, alias2);
            Assert.DoesNotContain("Version=", alias1, StringComparison.Ordinal);
            Assert.DoesNotContain("PublicKeyToken=", alias1, StringComparison.Ordinal);
        }

        Assert.Equal("System.Collections.Generic.Dictionary`2[[System.String],[Shop.Models.Cart]]",
            DefaultAlias(typeof(Dictionary<,>).MakeGenericType(typeof(string), build1)));
    }

    [Fact]
    public void The_alias_of_a_type_that_is_not_generic_is_still_its_full_name()
    {
        Assert.Equal(typeof(Cart).FullName, DefaultAlias(typeof(Cart)));
        Assert.Equal(typeof(Cart).FullName + "[]", DefaultAlias(typeof(Cart[])));
    }

    [Fact]
    public void A_value_of_a_generic_type_that_is_not_allowed_is_stored_under_a_version_free_alias_too()
    {
        var codec = Codec(new LockedSessionOptions());

        var stored = codec.EncodeTyped("carts", new List<Cart>(), typeof(List<Cart>));

        Assert.Equal(DefaultAlias(typeof(List<Cart>)), AliasOf(stored));
        Assert.DoesNotContain("Version=", AliasOf(stored), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("this build's", "null")]
    [InlineData("0.9.0.0", "null")]
    [InlineData("1.0.0.0", "null")]
    [InlineData("2.5.17.3", "b77a5c561934e089")]
    public void A_value_stored_under_the_alias_of_another_assembly_version_reads_through_the_object_API(string version, string publicKeyToken)
    {
        var options = new LockedSessionOptions().AllowType<List<Cart>>().AllowType<Dictionary<string, List<Cart>>>();
        var codec = Codec(options);
        var items = new Dictionary<string, byte[]>
        {
            ["carts"] = Envelope(VersionedAlias(typeof(List<Cart>), version, publicKeyToken), """[{"Items":["apple"]}]"""),
            ["byUser"] = Envelope(VersionedAlias(typeof(Dictionary<string, List<Cart>>), version, publicKeyToken), """{"ada":[{"Items":["pear"]}]}"""),
        };
        var session = new LockedSession("abcdefghijklmnopqrstuvwx", new SessionData(items, TimeSpan.FromMinutes(20)), false, SessionStateMode.InProc, codec, options, () => false);

        var carts = Assert.IsType<List<Cart>>(session["carts"]);
        var byUser = Assert.IsType<Dictionary<string, List<Cart>>>(session["byUser"]);

        Assert.Equal(["apple"], carts.Single().Items);
        Assert.Equal(["pear"], byUser["ada"].Single().Items);
        Assert.Null(session.GetChanges());
    }

    [Theory]
    [InlineData("System.Collections.Generic.List`1[[Shop.Models.Cart, Shop, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null]]", "System.Collections.Generic.List`1[[Shop.Models.Cart]]")]
    [InlineData("System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e],[Shop.Models.Cart[], Shop, Version=3.1.0.0, Culture=neutral, PublicKeyToken=null]][]", "System.Collections.Generic.Dictionary`2[[System.String],[Shop.Models.Cart[]]][]")]
    [InlineData("Shop.Models.Cart", "Shop.Models.Cart")]
    [InlineData("Shop.Outer+Cart[]", "Shop.Outer+Cart[]")]
    [InlineData("cart", "cart")]
    [InlineData("cart, v2", "cart, v2")]
    [InlineData("Shop.Models.Cart[], Shop", "Shop.Models.Cart[], Shop")]
    [InlineData("not [[ a type", "not [[ a type")]
    public void A_stored_alias_is_looked_up_as_the_default_alias_names_its_type_today(string stored, string lookedUp)
    {
        Assert.Equal(lookedUp, TypeAliases.Normalize(stored));
    }

    [Fact]
    public void The_default_alias_of_every_shape_is_its_own_normal_form()
    {
        foreach (var type in new[] { typeof(List<Cart>), typeof(Dictionary<string, List<Cart[]>>), typeof(Cart[,]), typeof(List<int>[]), typeof(KeyValuePair<Guid, Cart>?) })
        {
            Assert.Equal(TypeAliases.Default(type), TypeAliases.Normalize(TypeAliases.Default(type)));
            Assert.Equal(TypeAliases.Default(type), TypeAliases.Normalize(type.FullName!));
        }
    }

    /// <summary>The alias main wrote: the type's full name, its arguments' assemblies with the given version and key.</summary>
    private static string VersionedAlias(Type type, string version, string publicKeyToken)
    {
        version = version == "this build's" ? typeof(Cart).Assembly.GetName().Version!.ToString() : version;
        var alias = type.FullName!.Replace(
            ", Version=" + typeof(Cart).Assembly.GetName().Version + ", Culture=neutral, PublicKeyToken=null",
            $", Version={version}, Culture=neutral, PublicKeyToken={publicKeyToken}",
            StringComparison.Ordinal);
        Assert.Contains("Version=" + version, alias, StringComparison.Ordinal);
        return alias;
    }

    private static string DefaultAlias(Type type) => new LockedSessionOptions().AllowType(type).AllowedTypes[type];

    private static SessionValueCodec Codec(LockedSessionOptions options)
    {
        var wrapped = Options.Create(options);
        return new SessionValueCodec(new JsonSessionValueSerializer(wrapped), wrapped);
    }

    /// <summary>The stored form of a typed value (<see cref="SessionValueCodec"/>): format 1, the alias's length and UTF-8 bytes, the JSON.</summary>
    private static byte[] Envelope(string alias, string json)
    {
        var aliasBytes = Encoding.UTF8.GetBytes(alias);
        var stored = new byte[3];
        stored[0] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(stored.AsSpan(1), (ushort)aliasBytes.Length);
        return [.. stored, .. aliasBytes, .. Encoding.UTF8.GetBytes(json)];
    }

    private static string AliasOf(byte[] stored) => Encoding.UTF8.GetString(stored, 3, BinaryPrimitives.ReadUInt16BigEndian(stored.AsSpan(1)));

    /// <summary>One build of an application assembly <c>Shop</c> holding <c>Shop.Models.Cart</c>, with the given version.</summary>
    private static Type ShopBuild(Version version)
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Shop") { Version = version }, AssemblyBuilderAccess.Run);
        var cart = assembly.DefineDynamicModule("Shop").DefineType("Shop.Models.Cart", TypeAttributes.Public | TypeAttributes.Class | TypeAttributes.Sealed);
        cart.DefineDefaultConstructor(MethodAttributes.Public);
        return cart.CreateType();
    }
}
