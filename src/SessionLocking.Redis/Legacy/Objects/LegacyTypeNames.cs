namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The names the legacy side knows a .NET type by: BCL types as the .NET Framework's (in <c>mscorlib</c>), mapped
/// types by their mapping. Null for a type that cannot be written.
/// </summary>
internal static class LegacyTypeNames
{
    /// <summary>The namespace-qualified legacy name of <paramref name="type"/> (generic arguments assembly-qualified), or null.</summary>
    public static string? FullName(Type type, LegacyTypeMap map)
    {
        if (map.Mapped(type) is { } mapped)
        {
            return mapped.FullName;
        }

        if (type.IsSZArray)
        {
            return FullName(type.GetElementType()!, map) is { } element ? element + "[]" : null;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            var definition = type.GetGenericTypeDefinition();
            if (definition != typeof(List<>) && definition != typeof(Dictionary<,>) && definition != typeof(KeyValuePair<,>) && definition != typeof(Nullable<>))
            {
                return null;
            }

            var arguments = new List<string>();
            foreach (var argument in type.GetGenericArguments())
            {
                if (Qualified(argument, map) is not { } name)
                {
                    return null;
                }

                arguments.Add("[" + name + "]");
            }

            return definition.FullName + "[" + string.Join(",", arguments) + "]";
        }

        return IsBuiltIn(type) ? type.FullName : null;
    }

    /// <summary>The legacy assembly of <paramref name="type"/> (an array's is its element's).</summary>
    public static string Assembly(Type type, LegacyTypeMap map)
    {
        while (type.IsSZArray)
        {
            type = type.GetElementType()!;
        }

        return map.Mapped(type)?.AssemblyName ?? LegacyTypeMap.Mscorlib;
    }

    /// <summary>The assembly-qualified legacy name, or null.</summary>
    public static string? Qualified(Type type, LegacyTypeMap map) =>
        FullName(type, map) is { } name ? name + ", " + Assembly(type, map) : null;

    /// <summary>A comparer's legacy name as the .NET Framework's Dictionary default comparer of <paramref name="key"/> serializes.</summary>
    public static string? Comparer(Type key, LegacyTypeMap map) =>
        Qualified(key, map) is { } name
            ? (!key.IsEnum && typeof(IEquatable<>).MakeGenericType(key).IsAssignableFrom(key)
                ? "System.Collections.Generic.GenericEqualityComparer`1[[" : "System.Collections.Generic.ObjectEqualityComparer`1[[") + name + "]]"
            : null;

    public static bool IsBuiltIn(Type type) =>
        type.IsPrimitive && type != typeof(IntPtr) && type != typeof(UIntPtr)
        || type == typeof(string) || type == typeof(object) || type == typeof(decimal) || type == typeof(DateTime)
        || type == typeof(TimeSpan) || type == typeof(Guid);
}
