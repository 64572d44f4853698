using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The item format of the store that shares RedisSessionStateProvider's sessions (registered with <c>UseItemFormat</c>).
/// <see cref="RedisSessionStateProviderFormat.V5"/>: classic values (<see cref="ClassicValueFormat"/>); other types
/// written with <c>Set&lt;T&gt;</c> are stored as a String item holding JSON. <see cref="RedisSessionStateProviderFormat.V4"/>:
/// each value serialized by <see cref="RedisSessionStateProviderStoreOptions.ValueSerializer"/> (UTF-8 JSON by default).
/// No type is ever loaded from stored data. In both, the classic application's BinaryFormatter objects (an Object item of
/// the collection, a hash value that is a BinaryFormatter stream) read into the types mapped with
/// <see cref="RedisSessionStateProviderStoreOptions.MapLegacyType{T}(string)"/>, and values of mapped types are written
/// in that format (<see cref="LegacyObjectFormat"/>).
/// </summary>
internal sealed class RedisSessionStateProviderItemFormat : ISessionItemFormat
{
    private readonly bool _v5;
    private readonly ISessionValueSerializer _json;
    private readonly ISessionValueSerializer _v4;
    private readonly LegacyObjectFormat _objects;

    public RedisSessionStateProviderItemFormat(IOptions<RedisSessionStateProviderStoreOptions> options, ISessionValueSerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(options);
        _v5 = options.Value.Format == RedisSessionStateProviderFormat.V5;
        _json = serializer;
        _v4 = options.Value.ValueSerializer ?? Utf8JsonValueSerializer.Instance;
        _objects = new LegacyObjectFormat(options.Value);
    }

    public bool CanStore(Type type) => ClassicValueFormat.IsNative(type) || _objects.Handles(type);

    public byte[] Encode(string name, object? value, Type type)
    {
        RefuseProviderItem(name, type.Name);
        if (value is not null && _objects.Handles(value.GetType()))
        {
            // A mapped legacy object: BinaryFormatter's format, whatever V4's value serializer is (V5: an Object item).
            var payload = _objects.Write(name, value);
            return _v5 ? [ClassicValueFormat.Object, .. payload] : payload;
        }

        if (!_v5)
        {
            return Serialize(_v4, name, value, type);
        }

        if (value is null)
        {
            return ClassicValueFormat.EncodeNull();
        }

        if (ClassicValueFormat.IsNative(value.GetType()))
        {
            return ClassicValueFormat.EncodeNative(value);
        }

        // Not a classic primitive: a JSON string, which the classic side can read (and parse) as a string.
        var json = Serialize(_json, name, value, type);
        return ClassicValueFormat.EncodeNative(Encoding.UTF8.GetString(json));
    }

    /// <remarks>
    /// V4: UTF-8 text (what ISession.SetString writes) becomes a JSON string, so that the classic side reads a string;
    /// other bytes a JSON array of numbers.
    /// </remarks>
    public byte[] EncodeBytes(string name, ReadOnlySpan<byte> value)
    {
        RefuseProviderItem(name, "byte[]");
        if (_v5)
        {
            return ClassicValueFormat.EncodeBytes(value);
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            if (TryUtf8(value, out var text))
            {
                writer.WriteStringValue(text);
            }
            else
            {
                writer.WriteStartArray();
                foreach (var b in value)
                {
                    writer.WriteNumberValue(b);
                }

                writer.WriteEndArray();
            }
        }

        return stream.ToArray();
    }

    public object? Decode(string name, byte[] stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (LegacyObjectAt(stored) is var offset and >= 0)
        {
            return _objects.Read(name, stored, offset, typeof(object));
        }

        return _v5 ? ClassicValueFormat.Decode(name, stored) : DecodeUntypedJson(name, stored);
    }

    public object? Decode(string name, byte[] stored, Type type)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(type);
        if (LegacyObjectAt(stored) is var offset and >= 0)
        {
            return _objects.Read(name, stored, offset, type);
        }

        if (!_v5)
        {
            return Deserialize(_v4, name, stored, type);
        }

        var value = ClassicValueFormat.Decode(name, stored);
        if (value is null || type == typeof(object) || type.IsInstanceOfType(value) || Nullable.GetUnderlyingType(type) == value.GetType())
        {
            return value;
        }

        if (value is byte[] raw && type == typeof(string))
        {
            // Bytes written through ISession read as text, as ISession.GetString does.
            return Utf8(name, raw);
        }

        if (value is string json)
        {
            return Deserialize(_json, name, Encoding.UTF8.GetBytes(json), type);
        }

        throw new SessionSerializationException(name, type.FullName ?? type.Name,
            $"The session item '{name}' holds a '{value.GetType().FullName}', which is not a '{type.FullName}'.");
    }

    public byte[] DecodeBytes(string name, byte[] stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (!_v5)
        {
            return (LegacyObjectAt(stored) >= 0 ? _objects.Read(name, stored, 0, typeof(object)) : DecodeUntypedJson(name, stored, bytesArray: true)) switch
            {
                string text => Encoding.UTF8.GetBytes(text),
                byte[] bytes => bytes,
                null => [],
                var other => throw new SessionSerializationException(name, other.GetType().FullName ?? "value",
                    $"The session item '{name}' holds a '{other.GetType().FullName}', not bytes or a string; read it with Get<T>() or the indexer."),
            };
        }

        return ClassicValueFormat.Decode(name, stored) switch
        {
            byte[] bytes => bytes,
            string text => Encoding.UTF8.GetBytes(text),
            null => [],
            var other => throw new SessionSerializationException(name, other.GetType().FullName ?? "value",
                $"The session item '{name}' holds a '{other.GetType().FullName}', not bytes or a string; read it with Get<T>() or the indexer."),
        };
    }

    public bool IsBytes(byte[] stored) => _v5 && ClassicValueFormat.IsBytes(stored);

    /// <summary>
    /// Where a BinaryFormatter payload starts in a stored value (V5: an Object item other than a byte array; V4: the whole
    /// value), or -1.
    /// </summary>
    private int LegacyObjectAt(byte[] stored)
    {
        if (_v5)
        {
            return stored.Length > 1 && stored[0] == ClassicValueFormat.Object && !ClassicValueFormat.IsBytes(stored) && LegacyObjectFormat.IsPayload(stored, 1) ? 1 : -1;
        }

        return LegacyObjectFormat.IsPayload(stored, 0) ? 0 : -1;
    }

    /// <summary>The provider removes its <c>SessionStateActions</c> item on every write: a value stored under that name would vanish.</summary>
    private static void RefuseProviderItem(string name, string typeName)
    {
        if (string.Equals(name, ClassicSessionStateActions.ItemName, StringComparison.OrdinalIgnoreCase))
        {
            throw ClassicSessionStateActions.Reserved(name, typeName);
        }
    }

    private static readonly UTF8Encoding Utf8Strict = new(false, true);

    private static bool TryUtf8(ReadOnlySpan<byte> value, out string text)
    {
        try
        {
            text = Utf8Strict.GetString(value);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = string.Empty;
            return false;
        }
    }

    private static string Utf8(string name, byte[] raw) =>
        TryUtf8(raw, out var text)
            ? text
            : throw new SessionSerializationException(name, typeof(string).FullName!, $"The session item '{name}' holds bytes that are not UTF-8 text.");

    private static byte[] Serialize(ISessionValueSerializer serializer, string name, object? value, Type type)
    {
        try
        {
            return serializer.Serialize(value, type);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not SessionSerializationException)
        {
            throw new SessionSerializationException(name, type.FullName ?? type.Name,
                $"The session item '{name}' of type '{type.FullName}' cannot be serialized: {ex.Message}", ex);
        }
    }

    private static object? Deserialize(ISessionValueSerializer serializer, string name, byte[] stored, Type type)
    {
        try
        {
            return serializer.Deserialize(stored, type);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not SessionSerializationException)
        {
            throw new SessionSerializationException(name, type.FullName ?? type.Name,
                $"The session item '{name}' cannot be read as '{type.FullName}': {ex.Message}", ex);
        }
    }

    /// <summary>V4, object API: a JSON string, number, boolean or null; anything else needs <c>Get&lt;T&gt;</c>.</summary>
    private static object? DecodeUntypedJson(string name, byte[] stored, bool bytesArray = false)
    {
        try
        {
            using var document = JsonDocument.Parse(stored);
            var root = document.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Array when bytesArray => root.EnumerateArray().Select(e => e.GetByte()).ToArray(),
                JsonValueKind.String => root.GetString(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Null => null,
                JsonValueKind.Number when root.TryGetInt32(out var i) => i,
                JsonValueKind.Number when root.TryGetInt64(out var l) => l,
                JsonValueKind.Number => root.GetDouble(),
                _ => throw new SessionSerializationException(name, "JSON " + root.ValueKind,
                    $"The session item '{name}' holds a JSON {root.ValueKind.ToString().ToLowerInvariant()}; read it with Get<T>() and the type it holds."),
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new SessionSerializationException(name, "JSON", $"The session item '{name}' is not UTF-8 JSON (is the classic side's redisSerializerType the JSON serializer?): {ex.Message}", ex);
        }
    }
}

/// <summary>The default V4 value serializer: System.Text.Json, UTF-8.</summary>
internal sealed class Utf8JsonValueSerializer : ISessionValueSerializer
{
    public static readonly Utf8JsonValueSerializer Instance = new();

    public byte[] Serialize(object? value, Type type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    public object? Deserialize(ReadOnlySpan<byte> data, Type type) => JsonSerializer.Deserialize(data, type);
}
