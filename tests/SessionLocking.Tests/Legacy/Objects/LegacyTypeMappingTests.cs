using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SessionLocking.Tests.Legacy.Objects;

/// <summary>The mapping's own checks: names that are not legacy type names, a type mapped twice, limits out of range.</summary>
public sealed class LegacyTypeMappingTests
{
    [Theory]
    [InlineData("Shop.Models.Cart")] // no assembly
    [InlineData("Shop.Models.Cart[], Shop")]
    [InlineData("System.Collections.Generic.List`1[[Shop.Models.Cart, Shop]], mscorlib")]
    [InlineData(" ")]
    public void A_name_that_is_not_an_assembly_qualified_legacy_type_name_is_refused(string name)
    {
        var options = new RedisSessionStateProviderStoreOptions();

        var error = Assert.ThrowsAny<ArgumentException>(() => options.MapLegacyType<NewShop.Cart>(name));

        Assert.Equal("legacyTypeName", error.ParamName);
    }

    [Fact]
    public void A_member_the_type_does_not_have_is_refused_naming_it()
    {
        var mapping = new RedisSessionStateProviderStoreOptions().MapLegacyType<NewShop.Cart>("Shop.Models.Cart, Shop");

        var error = Assert.Throws<ArgumentException>(() => mapping.MapMember("_x", "NoSuchMember"));

        Assert.Contains("'NoSuchMember'", error.Message);
        Assert.Equal("Shop.Models.Cart, Shop", mapping.LegacyTypeName);
        Assert.Equal(typeof(NewShop.Cart), mapping.Type);
    }

    [Theory]
    [InlineData("twice")]
    [InlineData("two names")]
    [InlineData("depth")]
    public async Task Mappings_and_limits_that_cannot_work_fail_start_up_saying_why(string problem)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = "localhost:1";
            o.ApplicationName = "Shop";
            o.MapLegacyType<NewShop.Cart>("Shop.Models.Cart, Shop, Version=1.0.0.0");
            switch (problem)
            {
                case "twice": o.MapLegacyType<NewShop.CartLine>("Shop.Models.Cart, Shop, Version=2.0.0.0"); break;
                case "two names": o.MapLegacyType<NewShop.Cart>("Shop.Models.Basket, Shop"); break;
                default: o.MaxLegacyObjectDepth = 100_000; break;
            }
        });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value);

        Assert.Contains(problem switch { "twice" => "mapped twice", "two names" => "two legacy types", _ => "MaxLegacyObjectDepth" }, error.Message);
    }
}
