using System.Reflection.Metadata;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The allow-list of legacy types: the mapped ones (by namespace, name and assembly name; version, culture and key
/// ignored) and the BCL types built in. Resolving a name never loads a type: it only looks it up here.
/// </summary>
internal sealed class LegacyTypeMap
{
    /// <summary>The assembly the .NET Framework's BCL types are written with (and read from).</summary>
    public const string Mscorlib = "mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089";

    private static readonly Dictionary<string, Type> BuiltIn = new(StringComparer.Ordinal)
    {
        ["System.Object"] = typeof(object),
        ["System.String"] = typeof(string),
        ["System.Boolean"] = typeof(bool),
        ["System.Byte"] = typeof(byte),
        ["System.SByte"] = typeof(sbyte),
        ["System.Char"] = typeof(char),
        ["System.Int16"] = typeof(short),
        ["System.UInt16"] = typeof(ushort),
        ["System.Int32"] = typeof(int),
        ["System.UInt32"] = typeof(uint),
        ["System.Int64"] = typeof(long),
        ["System.UInt64"] = typeof(ulong),
        ["System.Single"] = typeof(float),
        ["System.Double"] = typeof(double),
        ["System.Decimal"] = typeof(decimal),
        ["System.DateTime"] = typeof(DateTime),
        ["System.TimeSpan"] = typeof(TimeSpan),
        ["System.Guid"] = typeof(Guid),
    };

    private static readonly Dictionary<string, Type> BuiltInGenerics = new(StringComparer.Ordinal)
    {
        ["System.Collections.Generic.List`1"] = typeof(List<>),
        ["System.Collections.Generic.Dictionary`2"] = typeof(Dictionary<,>),
        ["System.Collections.Generic.KeyValuePair`2"] = typeof(KeyValuePair<,>),
        ["System.Nullable`1"] = typeof(Nullable<>),
    };

    private readonly Dictionary<(string FullName, string Assembly), LegacyMappedType> _byName = [];
    private readonly Dictionary<Type, LegacyMappedType> _byType = [];

    public LegacyTypeMap(IEnumerable<LegacyTypeMapping> mappings)
    {
        foreach (var mapping in mappings)
        {
            var entry = new LegacyMappedType(mapping);
            if (!_byName.TryAdd((mapping.LegacyFullName, mapping.LegacyAssemblySimpleName), entry))
            {
                throw new InvalidOperationException($"The legacy type '{mapping.LegacyTypeName}' is mapped twice (MapLegacyType).");
            }

            if (!_byType.TryAdd(mapping.Type, entry))
            {
                throw new InvalidOperationException($"'{mapping.Type}' is mapped to two legacy types (MapLegacyType): a type is written back with one name.");
            }
        }
    }

    public bool IsEmpty => _byType.Count == 0;

    public LegacyMappedType? Mapped(Type type) => _byType.GetValueOrDefault(type);

    public static bool IsSystemAssembly(AssemblyNameInfo? assembly) =>
        assembly is null || assembly.Name is "mscorlib" or "System.Private.CoreLib";

    /// <summary>The .NET type a legacy type name stands for, or null when it is neither built in nor mapped.</summary>
    public Type? Resolve(TypeName name, out LegacyMappedType? mapped)
    {
        mapped = null;
        if (name.IsSZArray)
        {
            return Resolve(name.GetElementType(), out _)?.MakeArrayType();
        }

        if (name.IsArray || name.IsPointer || name.IsByRef)
        {
            return null;
        }

        if (name.IsConstructedGenericType)
        {
            var definition = name.GetGenericTypeDefinition();
            if (!IsSystemAssembly(definition.AssemblyName) || !BuiltInGenerics.TryGetValue(definition.FullName, out var generic))
            {
                return null;
            }

            var arguments = name.GetGenericArguments();
            var types = new Type[arguments.Length];
            for (var i = 0; i < arguments.Length; i++)
            {
                if (Resolve(arguments[i], out _) is not { } argument || argument.IsByRefLike)
                {
                    return null;
                }

                types[i] = argument;
            }

            if (generic == typeof(Nullable<>) && !types[0].IsValueType)
            {
                return null;
            }

            return generic.GetGenericArguments().Length == types.Length ? generic.MakeGenericType(types) : null;
        }

        if (IsSystemAssembly(name.AssemblyName) && BuiltIn.TryGetValue(name.FullName, out var builtIn))
        {
            return builtIn;
        }

        mapped = name.AssemblyName is { } assembly ? _byName.GetValueOrDefault((name.FullName, assembly.Name)) : null;
        return mapped?.Type;
    }
}
