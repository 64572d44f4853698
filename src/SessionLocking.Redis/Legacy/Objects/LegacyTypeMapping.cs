using System.Reflection.Metadata;

namespace SessionLocking;

/// <summary>
/// One legacy type the store may read and write (<see cref="RedisSessionStateProviderStoreOptions.MapLegacyType{T}(string)"/>):
/// a class, struct or enum the classic application stored in session with BinaryFormatter, and the .NET type it becomes
/// here. Its members are matched by name (see docs/legacy-redis.md); <see cref="MapMember"/> names the ones that differ.
/// </summary>
public sealed class LegacyTypeMapping
{
    private readonly Dictionary<string, string> _members = new(StringComparer.Ordinal);

    internal LegacyTypeMapping(string legacyTypeName, Type type)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(legacyTypeName);
        if (!TypeName.TryParse(legacyTypeName.AsSpan(), out var parsed) || parsed.AssemblyName is null || parsed.IsArray || parsed.IsConstructedGenericType || parsed.IsPointer || parsed.IsByRef)
        {
            throw new ArgumentException(
                $"'{legacyTypeName}' is not an assembly-qualified name of a legacy type, such as \"Shop.Models.Cart, Shop\" (the namespace and type, a comma, the assembly's name; version, culture and key are optional and ignored).",
                nameof(legacyTypeName));
        }

        if (type.IsGenericType || type.IsArray || type.IsAbstract || type.IsInterface || type.IsPointer || type.IsPrimitive || type == typeof(string))
        {
            throw new ArgumentException($"'{type}' cannot be mapped: map a concrete, non-generic class, struct or enum.", nameof(type));
        }

        LegacyTypeName = legacyTypeName;
        Type = type;
        LegacyFullName = parsed.FullName;
        LegacyAssemblyName = parsed.AssemblyName.FullName;
        LegacyAssemblySimpleName = parsed.AssemblyName.Name;
    }

    /// <summary>The legacy type's name as it was mapped, for example <c>Shop.Models.Cart, Shop</c>.</summary>
    public string LegacyTypeName { get; }

    /// <summary>The .NET type the legacy type becomes.</summary>
    public Type Type { get; }

    internal string LegacyFullName { get; }

    internal string LegacyAssemblyName { get; }

    internal string LegacyAssemblySimpleName { get; }

    internal IReadOnlyDictionary<string, string> Members => _members;

    /// <summary>
    /// Maps a serialized member of the legacy type to a property or field of <see cref="Type"/> whose name differs,
    /// for example <c>MapMember("_lines", nameof(Cart.Lines))</c>. The legacy name is the one BinaryFormatter wrote: a
    /// field's name, or <c>&lt;Name&gt;k__BackingField</c> for an auto-property (those map to the property of that name
    /// by themselves).
    /// </summary>
    /// <param name="legacyMemberName">The member's name in the legacy data.</param>
    /// <param name="memberName">The name of the property or field of <see cref="Type"/>.</param>
    /// <returns>This mapping.</returns>
    public LegacyTypeMapping MapMember(string legacyMemberName, string memberName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(legacyMemberName);
        ArgumentException.ThrowIfNullOrWhiteSpace(memberName);
        if (LegacyMember.Find(Type, memberName) is null)
        {
            throw new ArgumentException($"'{Type}' has no settable property or field named '{memberName}'.", nameof(memberName));
        }

        _members[legacyMemberName] = memberName;
        return this;
    }
}
