namespace SessionLocking.Serialization;

/// <summary>Type names as C# code writes them, for error messages that say what to type.</summary>
internal static class TypeNames
{
    /// <summary><c>List&lt;Cart&gt;</c> rather than <c>List`1</c>; nested types with a dot.</summary>
    public static string CSharp(Type type)
    {
        if (type.IsArray)
        {
            return CSharp(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        var name = type.IsNested ? CSharp(type.DeclaringType!) + "." + type.Name : type.Name;
        if (!type.IsGenericType)
        {
            return name;
        }

        var tick = name.IndexOf('`', StringComparison.Ordinal);
        var arguments = type.GetGenericArguments().Skip(type.IsNested ? type.DeclaringType!.GetGenericArguments().Length : 0);
        return (tick < 0 ? name : name[..tick]) + "<" + string.Join(", ", arguments.Select(CSharp)) + ">";
    }
}
