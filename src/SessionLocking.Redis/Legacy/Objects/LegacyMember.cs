using System.Reflection;

namespace SessionLocking;

/// <summary>A property or field of a mapped type that one serialized member of the legacy type reads into and writes from.</summary>
internal sealed class LegacyMember
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private readonly PropertyInfo? _property;
    private readonly FieldInfo? _field;

    private LegacyMember(PropertyInfo? property, FieldInfo? field)
    {
        _property = property;
        _field = field;
    }

    /// <summary>The .NET member's name.</summary>
    public string Name => _property?.Name ?? _field!.Name;

    /// <summary>The .NET member's declared type: what the data must hold, and what is written for it.</summary>
    public Type Type => _property?.PropertyType ?? _field!.FieldType;

    public object? GetValue(object target) => _property is not null ? _property.GetValue(target) : _field!.GetValue(target);

    public void SetValue(object target, object? value)
    {
        if (_property is not null)
        {
            _property.SetValue(target, value);
        }
        else
        {
            _field!.SetValue(target, value);
        }
    }

    /// <summary>The settable, readable instance property or field of <paramref name="type"/> (or a base type) named exactly <paramref name="name"/>.</summary>
    public static LegacyMember? Find(Type type, string name) => Find(type, name, StringComparison.Ordinal);

    /// <summary>
    /// The member a legacy member name reads into: the explicit mapping, else the name without a base class prefix
    /// (<c>Base+name</c>) and, for <c>&lt;Name&gt;k__BackingField</c>, the property <c>Name</c>; exactly, then ignoring case
    /// and a leading <c>_</c> or <c>m_</c>.
    /// </summary>
    public static LegacyMember? Resolve(Type type, IReadOnlyDictionary<string, string> mapped, string legacyName)
    {
        if (mapped.TryGetValue(legacyName, out var explicitName))
        {
            return Find(type, explicitName);
        }

        var name = legacyName[(legacyName.LastIndexOf('+') + 1)..];
        if (mapped.TryGetValue(name, out explicitName))
        {
            return Find(type, explicitName);
        }

        if (name.StartsWith('<') && name.EndsWith(">k__BackingField", StringComparison.Ordinal))
        {
            name = name[1..^">k__BackingField".Length];
        }

        return Find(type, name, StringComparison.Ordinal)
            ?? Find(type, name, StringComparison.OrdinalIgnoreCase)
            ?? Find(type, Unprefixed(name), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The names BinaryFormatter gives the serialized fields of <paramref name="type"/> (its own first, then each base
    /// class's as <c>Base+name</c>; <c>[NonSerialized]</c> ones left out), each replaced by the legacy name a
    /// <see cref="LegacyTypeMapping.MapMember"/> gave the member it belongs to.
    /// </summary>
    public static List<string> DefaultLegacyNames(Type type, IReadOnlyDictionary<string, string> mapped)
    {
        var reverse = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (legacy, member) in mapped)
        {
            reverse.TryAdd(member, legacy);
        }

        var names = new List<string>();
        for (var t = type; t is not null && t != typeof(object) && t != typeof(ValueType); t = t.BaseType)
        {
            foreach (var field in t.GetFields(Instance | BindingFlags.DeclaredOnly))
            {
#pragma warning disable SYSLIB0050 // [NonSerialized] is what BinaryFormatter skips: the names it writes are wanted here, not the formatter.
                if ((field.Attributes & FieldAttributes.NotSerialized) != 0)
#pragma warning restore SYSLIB0050
                {
                    continue;
                }

                var member = field.Name.StartsWith('<') && field.Name.EndsWith(">k__BackingField", StringComparison.Ordinal)
                    ? field.Name[1..^">k__BackingField".Length]
                    : field.Name;
                var name = reverse.TryGetValue(member, out var legacy) ? legacy
                    : reverse.TryGetValue(field.Name, out legacy) ? legacy
                    : field.Name;
                names.Add(t == type || name.Contains('+', StringComparison.Ordinal) ? name : t.Name + "+" + name);
            }
        }

        return names;
    }

    private static string Unprefixed(string name) =>
        name.StartsWith("m_", StringComparison.Ordinal) ? name[2..] : name.TrimStart('_');

    private static LegacyMember? Find(Type type, string name, StringComparison comparison)
    {
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var property in t.GetProperties(Instance | BindingFlags.DeclaredOnly))
            {
                if (string.Equals(property.Name, name, comparison) && property.CanRead && property.CanWrite && property.GetIndexParameters().Length == 0)
                {
                    return new LegacyMember(property, null);
                }
            }

            foreach (var field in t.GetFields(Instance | BindingFlags.DeclaredOnly))
            {
                if (string.Equals(field.Name, name, comparison) && !field.Name.StartsWith('<'))
                {
                    return new LegacyMember(null, field);
                }
            }
        }

        return null;
    }
}
