using System.Reflection.Metadata;

namespace SessionLocking.Serialization;

/// <summary>
/// Default type aliases, which name no assembly. A type that is not generic is its full name, as it always was
/// (<c>Shop.Models.Cart</c>, <c>Shop.Models.Cart[]</c>); a generic type is its definition's full name followed by its
/// arguments' aliases, in the bracket syntax of <see cref="Type.FullName"/> without the assembly names:
/// <c>System.Collections.Generic.List`1[[Shop.Models.Cart]]</c>. <see cref="Type.FullName"/> itself names the
/// arguments' assemblies with their versions, so every build that bumped a version would store the same type under a
/// new alias and could no longer read what earlier builds stored; assembly names go too, because framework types move
/// between assemblies across runtime versions, and the alias of a type that is not generic never named one.
/// </summary>
internal static class TypeAliases
{
    /// <summary>The alias of <paramref name="type"/> when the application gives none.</summary>
    public static string Default(Type type)
    {
        if (type.IsArray)
        {
            return Default(type.GetElementType()!) + ArraySuffix(type.IsSZArray, type.GetArrayRank());
        }

        if (type.IsConstructedGenericType)
        {
            return Default(type.GetGenericTypeDefinition()) + Arguments(type.GetGenericArguments().Select(Default));
        }

        return type.FullName ?? type.Name;
    }

    /// <summary>
    /// A stored alias as <see cref="Default"/> names the same type today: an alias earlier versions stored for a
    /// generic type, <c>List`1[[Shop.Models.Cart, Shop, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null]]</c>
    /// (any version, culture or key), becomes <c>List`1[[Shop.Models.Cart]]</c>. Anything else, such as an alias that
    /// names an assembly itself (as no default alias ever did), comes back as it is. Only used to look an alias up among
    /// the allowed ones: no type is ever loaded from it.
    /// </summary>
    public static string Normalize(string alias)
    {
        if (!alias.Contains('[', StringComparison.Ordinal))
        {
            return alias;
        }

        return TypeName.TryParse(alias.AsSpan(), out var parsed) && parsed.AssemblyName is null ? Render(parsed) : alias;
    }

    private static string Render(TypeName name)
    {
        if (name.IsArray)
        {
            return Render(name.GetElementType()) + ArraySuffix(name.IsSZArray, name.GetArrayRank());
        }

        if (name.IsConstructedGenericType)
        {
            return Render(name.GetGenericTypeDefinition()) + Arguments(name.GetGenericArguments().Select(Render));
        }

        return name.FullName;
    }

    private static string Arguments(IEnumerable<string> aliases) => "[" + string.Join(",", aliases.Select(a => "[" + a + "]")) + "]";

    /// <summary>As <see cref="Type.FullName"/> writes arrays: <c>[]</c>, <c>[*]</c> for one rank with bounds, <c>[,]</c> for two ranks.</summary>
    private static string ArraySuffix(bool singleDimensionZeroBased, int rank) =>
        singleDimensionZeroBased ? "[]" : rank == 1 ? "[*]" : "[" + new string(',', rank - 1) + "]";
}
