using System.Reflection.Metadata;

namespace SessionLocking.Redis.Legacy;

/// <summary>The errors of reading and writing legacy objects: each names the item, and says what to do.</summary>
internal static class LegacyObjectErrors
{
    public const string BinaryFormatterObject = "BinaryFormatter object";

    /// <summary>The item's graph names a type that is not mapped: nothing of it was materialized.</summary>
    public static SessionSerializationException NotMapped(string item, TypeName type, string where)
    {
        var name = Shorten(type.AssemblyName is { } assembly ? type.FullName + ", " + assembly.Name : type.FullName);
        return new SessionSerializationException(item, name,
            $"The session item '{item}' was stored by the classic application as a BinaryFormatter object, and {where}it holds the legacy type '{name}', which is not mapped. "
            + $"Map it to a .NET type with options.MapLegacyType<T>(\"{name}\") on RedisSessionStateProviderStoreOptions (every legacy class, struct and enum in the item needs one; see docs/legacy-redis.md). "
            + "Nothing was deserialized; the item is kept byte for byte while the new side does not change it.");
    }

    /// <summary>The payload is malformed, over a limit, or does not fit the mapped types.</summary>
    public static SessionSerializationException Unreadable(string item, string what, Exception? inner = null) =>
        new(item, BinaryFormatterObject,
            $"The session item '{item}' was stored by the classic application as a BinaryFormatter object that cannot be read: {Shorten(what, 600)}. Nothing was deserialized; the item is kept byte for byte while the new side does not change it.",
            inner);

    /// <summary>The value cannot be written in the legacy format faithfully: nothing was written.</summary>
    public static SessionSerializationException Unwritable(string item, Type type, string what) =>
        new(item, Describe(type),
            $"The session item '{item}' ({Describe(type)}) cannot be written back for the classic application: {what}. Nothing was written; the stored item is unchanged (docs/legacy-redis.md).");

    public static string Describe(Type? type) => type is null ? "null" : type.FullName ?? type.Name;

    private static string Shorten(string text, int length = 200) => text.Length <= length ? text : text[..length] + "…";
}
