using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The provider's own item <c>SessionStateActions</c>. A classic request that finds no stored session for its id calls
/// <c>CreateUninitializedItem</c>, which stores a session holding only this item (<c>SessionStateActions.InitializeItem</c>):
/// the id is issued, but no request has started the session yet. The provider's <c>GetItem</c>/<c>GetItemExclusive</c>
/// read a non-null value of it as the session's actions (<c>Enum.Parse</c> of its text; the module then makes the session
/// new and runs <c>Session_Start</c>), and its <c>SetAndReleaseItemExclusive</c> removes it before every write (new or
/// update, V4 and V5). This store does the same: the item is never shown to the application, a session it marks is
/// reported as not found (new), and every write-back removes it.
/// </summary>
internal static class ClassicSessionStateActions
{
    /// <summary>The item's name (the classic collection compares names ignoring case).</summary>
    public const string ItemName = "SessionStateActions";

    // SessionStateActions.InitializeItem.
    private const int InitializeItem = 1;

    /// <summary>Takes the item out of <paramref name="items"/>; true when its value has the <c>InitializeItem</c> flag.</summary>
    public static bool Take(Dictionary<string, byte[]> items, bool v5)
    {
        if (!items.Remove(ItemName, out var value))
        {
            return false;
        }

        return ((v5 ? ActionsV5(value) : ActionsV4(value)) & InitializeItem) != 0;
    }

    /// <summary>The changes of a write-back, with the item removed as well (as the provider's write-backs do).</summary>
    public static SessionChanges Removing(SessionChanges changes) =>
        changes.Removed.Contains(ItemName, StringComparer.OrdinalIgnoreCase)
            ? changes
            : new SessionChanges(changes.Set, [.. changes.Removed, ItemName], changes.Timeout, changes.IsNew);

    /// <summary>The error for an application that tries to store an item of that name: the provider would remove it on its next write.</summary>
    public static SessionSerializationException Reserved(string name, string typeName) =>
        new(name, typeName, $"'{name}' is RedisSessionStateProvider's own item (it marks a session the classic side created but nobody started); the provider removes it on every write and reads it as the session's actions. Use another name.");

    /// <summary>
    /// V5: what the provider stores is the boxed enum, an Object item holding its BinaryFormatter record, which ends with
    /// the Int32 <c>value__</c> and MessageEnd (11). A value the provider cannot parse counts as InitializeItem (the
    /// session starts afresh either way).
    /// </summary>
    private static int ActionsV5(byte[] value) => value switch
    {
        [ClassicValueFormat.Null] => 0,
        [ClassicValueFormat.Object, .., _, _, _, _, 11] => BinaryPrimitives.ReadInt32LittleEndian(value.AsSpan(value.Length - 5, 4)),
        [ClassicValueFormat.Int32, _, _, _, _] => BinaryPrimitives.ReadInt32LittleEndian(value.AsSpan(1)),
        [ClassicValueFormat.String, ..] => Parse(DecodeString(value)),
        _ => InitializeItem,
    };

    private static string? DecodeString(byte[] value)
    {
        try
        {
            return ClassicValueFormat.Decode(ItemName, value) as string;
        }
        catch (SessionSerializationException)
        {
            return null;
        }
    }

    /// <summary>V4: the bytes of the provider's <c>redisSerializerType</c>, JSON with the serializer the docs recommend.</summary>
    private static int ActionsV4(byte[] value)
    {
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Null => 0,
                JsonValueKind.Number when root.TryGetInt32(out var number) => number,
                JsonValueKind.String => Parse(root.GetString()),
                _ => InitializeItem,
            };
        }
        catch (JsonException)
        {
            return Parse(Encoding.UTF8.GetString(value));
        }
    }

    /// <summary><c>Enum.Parse</c> of the text: a name (None, InitializeItem) or a number.</summary>
    private static int Parse(string? text)
    {
        text = text?.Trim();
        if (string.Equals(text, "None", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) ? number : InitializeItem;
    }
}
