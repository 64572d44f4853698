using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;

namespace SessionLocking.Serialization;

/// <summary>
/// The stored form of one item: a format byte, then either raw bytes (written through <c>ISession</c>) or a
/// type alias and the serialized value (written through the object API). The alias is looked up among the
/// types the application allowed; stored data never names a type to load. Aliases name no assembly version
/// (<see cref="TypeAliases"/>); those that earlier versions stored with one still find their type.
/// </summary>
/// <remarks>The default <see cref="ISessionItemFormat"/>.</remarks>
internal sealed class SessionValueCodec : ISessionItemFormat
{
    private const byte RawFormat = 0;
    private const byte TypedFormat = 1;
    private const string StringAlias = "string";
    private const string BytesAlias = "bytes";
    private const string NullAlias = "null";

    private static readonly Dictionary<Type, string> BuiltInAliases = new()
    {
        [typeof(string)] = StringAlias,
        [typeof(byte[])] = BytesAlias,
        [typeof(bool)] = "bool",
        [typeof(byte)] = "byte",
        [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short",
        [typeof(ushort)] = "ushort",
        [typeof(int)] = "int",
        [typeof(uint)] = "uint",
        [typeof(long)] = "long",
        [typeof(ulong)] = "ulong",
        [typeof(float)] = "float",
        [typeof(double)] = "double",
        [typeof(decimal)] = "decimal",
        [typeof(char)] = "char",
        [typeof(DateTime)] = "datetime",
        [typeof(DateTimeOffset)] = "datetimeoffset",
        [typeof(TimeSpan)] = "timespan",
        [typeof(Guid)] = "guid",
        [typeof(DateOnly)] = "dateonly",
        [typeof(TimeOnly)] = "timeonly",
    };

    private readonly ISessionValueSerializer _serializer;
    private readonly Dictionary<Type, string> _aliasByType;
    private readonly Dictionary<string, Type> _typeByAlias;
    private readonly ConcurrentDictionary<Type, string> _otherAliases = new();

    public SessionValueCodec(ISessionValueSerializer serializer, IOptions<LockedSessionOptions> options)
    {
        _serializer = serializer;
        _aliasByType = new Dictionary<Type, string>(BuiltInAliases);
        foreach (var (type, alias) in options.Value.AllowedTypes)
        {
            _aliasByType[type] = alias;
        }

        _typeByAlias = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var (type, alias) in _aliasByType)
        {
            _typeByAlias[alias] = type;
        }

        // An alias given in code the way earlier versions named the type (with an assembly version) is found under
        // any version too; an exact alias of another type wins.
        foreach (var (type, alias) in _aliasByType)
        {
            _typeByAlias.TryAdd(TypeAliases.Normalize(alias), type);
        }
    }

    bool ISessionItemFormat.CanStore(Type type) => IsAllowed(type);

    byte[] ISessionItemFormat.Encode(string name, object? value, Type type) => EncodeTyped(name, value, type);

    byte[] ISessionItemFormat.EncodeBytes(string name, ReadOnlySpan<byte> value) => EncodeRaw(value);

    object? ISessionItemFormat.Decode(string name, byte[] stored) => DecodeObject(name, stored);

    object? ISessionItemFormat.Decode(string name, byte[] stored, Type type) => DecodeAs(name, stored, type);

    byte[] ISessionItemFormat.DecodeBytes(string name, byte[] stored) => PayloadOf(name, stored);

    bool ISessionItemFormat.IsBytes(byte[] stored) => IsRaw(stored);

    /// <summary>Values of these types cannot change without a new assignment, so reading them never needs a re-check.</summary>
    public static bool IsImmutable(Type? type) =>
        type is null || (type != typeof(byte[]) && (BuiltInAliases.ContainsKey(type) || type.IsEnum));

    public bool IsAllowed(Type type) => _aliasByType.ContainsKey(type);

    /// <summary>True for bytes written through <c>ISession</c>.</summary>
    public static bool IsRaw(byte[] stored) => stored.Length > 0 && stored[0] == RawFormat;

    public static byte[] EncodeRaw(ReadOnlySpan<byte> value)
    {
        var stored = new byte[value.Length + 1];
        stored[0] = RawFormat;
        value.CopyTo(stored.AsSpan(1));
        return stored;
    }

    /// <summary>Encodes a value written through the object API or <c>Set&lt;T&gt;</c>.</summary>
    public byte[] EncodeTyped(string key, object? value, Type type)
    {
        if (value is null)
        {
            return Envelope(NullAlias, ReadOnlySpan<byte>.Empty);
        }

        var alias = _aliasByType.TryGetValue(type, out var known) ? known : _otherAliases.GetOrAdd(type, TypeAliases.Default);
        if (value is string text)
        {
            return Envelope(alias, Encoding.UTF8.GetBytes(text));
        }

        if (value is byte[] bytes)
        {
            return Envelope(alias, bytes);
        }

        byte[] payload;
        try
        {
            payload = _serializer.Serialize(value, type);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new SessionSerializationException(key, TypeNames.CSharp(type),
                $"The session item '{key}' of type '{TypeNames.CSharp(type)}' cannot be serialized: {ex.Message}", ex);
        }

        return Envelope(alias, payload);
    }

    /// <summary>Reads a value for the object API: only allowed types come back.</summary>
    public object? DecodeObject(string key, byte[] stored)
    {
        var (format, alias, payload) = Split(key, stored);
        if (format == RawFormat)
        {
            return payload.ToArray();
        }

        if (alias == NullAlias)
        {
            return null;
        }

        // Values stored by earlier versions name generic arguments with their assembly versions: any version reads.
        if (!_typeByAlias.TryGetValue(alias, out var type) && !_typeByAlias.TryGetValue(TypeAliases.Normalize(alias), out type))
        {
            throw new SessionSerializationException(key, alias,
                $"The session item '{key}' holds a value of type '{alias}', which the application has not allowed for the object API. Allow the type stored under that name with options.AllowType<T>() in AddLockedSession (an alias given there must match), or read it with Get<T>().");
        }

        return DecodePayload(key, payload.Span, type, alias);
    }

    /// <summary>Reads a value as the caller's type; raw bytes are read as UTF-8 text or JSON.</summary>
    public object? DecodeAs(string key, byte[] stored, Type type)
    {
        var (format, alias, payload) = Split(key, stored);
        if (format == TypedFormat && alias == NullAlias)
        {
            return null;
        }

        return DecodePayload(key, payload.Span, type, format == RawFormat ? "raw bytes" : alias);
    }

    /// <summary>The bytes <c>ISession.TryGetValue</c> returns: raw bytes as written, or the serialized payload of a typed value.</summary>
    public static byte[] PayloadOf(string key, byte[] stored) => Split(key, stored).Payload.ToArray();

    private object? DecodePayload(string key, ReadOnlySpan<byte> payload, Type type, string storedAs)
    {
        if (type == typeof(string))
        {
            return Encoding.UTF8.GetString(payload);
        }

        if (type == typeof(byte[]))
        {
            return payload.ToArray();
        }

        try
        {
            return _serializer.Deserialize(payload, type);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new SessionSerializationException(key, TypeNames.CSharp(type),
                $"The session item '{key}' (stored as '{storedAs}') cannot be read as '{TypeNames.CSharp(type)}': {ex.Message}", ex);
        }
    }

    private static byte[] Envelope(string alias, ReadOnlySpan<byte> payload)
    {
        var aliasLength = Encoding.UTF8.GetByteCount(alias);
        var stored = new byte[1 + 2 + aliasLength + payload.Length];
        stored[0] = TypedFormat;
        BinaryPrimitives.WriteUInt16BigEndian(stored.AsSpan(1), checked((ushort)aliasLength));
        Encoding.UTF8.GetBytes(alias, stored.AsSpan(3));
        payload.CopyTo(stored.AsSpan(3 + aliasLength));
        return stored;
    }

    private static (byte Format, string Alias, ReadOnlyMemory<byte> Payload) Split(string key, byte[] stored)
    {
        if (stored.Length >= 1 && stored[0] == RawFormat)
        {
            return (RawFormat, string.Empty, stored.AsMemory(1));
        }

        if (stored.Length >= 3 && stored[0] == TypedFormat)
        {
            var aliasLength = BinaryPrimitives.ReadUInt16BigEndian(stored.AsSpan(1));
            if (3 + aliasLength <= stored.Length)
            {
                var alias = Encoding.UTF8.GetString(stored, 3, aliasLength);
                return (TypedFormat, alias, stored.AsMemory(3 + aliasLength));
            }
        }

        throw new SessionSerializationException(key, "unknown",
            $"The session item '{key}' is corrupt: its stored form is not one SessionLocking writes.");
    }
}
