using System.Collections;
using System.Formats.Nrbf;
using System.Reflection;
using System.Reflection.Metadata;
using System.Runtime.CompilerServices;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Reads a BinaryFormatter payload (MS-NRBF) of the classic application into mapped .NET objects, with the safe
/// <see cref="NrbfDecoder"/>: it parses records and loads no type. Each record's type name is looked up in the
/// <see cref="LegacyTypeMap"/> (mapped and built-in types only) before anything is created; a name that is not there
/// fails the read, naming the item and the type to map. Shared references stay shared, cycles are closed, and the
/// payload's size, nesting depth and element counts are bounded by <see cref="LegacyObjectLimits"/>.
/// </summary>
internal sealed class LegacyObjectReader
{
    private static readonly PayloadOptions DecoderOptions = new()
    {
        // The decoder's own guards stay on: truncated type names are not reassembled, and a type name is small.
        UndoTruncatedTypeNames = false,
        TypeNameParseOptions = new TypeNameParseOptions { MaxNodes = 64 },
    };

    private readonly string _item;
    private readonly LegacyTypeMap _map;
    private readonly LegacyObjectLimits _limits;
    private readonly Dictionary<SerializationRecord, object> _done = new(ReferenceEqualityComparer.Instance);
    private readonly List<(LegacyMappedType Type, string Assembly, IReadOnlyList<string> Members)> _seen = [];
    private readonly List<string> _path = [];
    private long _elements;

    private LegacyObjectReader(string item, LegacyTypeMap map, LegacyObjectLimits limits)
    {
        _item = item;
        _map = map;
        _limits = limits;
    }

    /// <summary>True when <paramref name="payload"/> starts as a BinaryFormatter stream does.</summary>
    public static bool IsPayload(ReadOnlySpan<byte> payload) => NrbfDecoder.StartsWithPayloadHeader(payload);

    /// <summary>Reads the payload <paramref name="payload"/>[<paramref name="offset"/>..] as <paramref name="target"/>.</summary>
    public static object? Read(string item, byte[] payload, int offset, Type target, LegacyTypeMap map, LegacyObjectLimits limits)
    {
        var length = payload.Length - offset;
        if (length > limits.MaxBytes)
        {
            throw LegacyObjectErrors.Unreadable(item, $"it is {length} bytes, over the limit of {limits.MaxBytes} (RedisSessionStateProviderStoreOptions.MaxLegacyObjectBytes)");
        }

        var reader = new LegacyObjectReader(item, map, limits);
        try
        {
            SerializationRecord root;
            using (var stream = new MemoryStream(payload, offset, length, writable: false))
            {
                root = NrbfDecoder.Decode(stream, DecoderOptions, leaveOpen: true);
                if (stream.Position != stream.Length)
                {
                    throw LegacyObjectErrors.Unreadable(item, "it has bytes after its end");
                }
            }

            var value = reader.Value(root, target, 0);
            foreach (var (type, assembly, members) in reader._seen)
            {
                type.Seen(assembly, members);
            }

            return value;
        }
        catch (Exception ex) when (ex is not SessionSerializationException and not OutOfMemoryException and not StackOverflowException)
        {
            // The decoder's and the records' own errors (a truncated or malformed stream, a member of another type).
            throw LegacyObjectErrors.Unreadable(item, reader.Where() + ex.Message, ex);
        }
    }

    private object? Value(object? raw, Type target, int depth)
    {
        if (depth > _limits.MaxDepth)
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its objects nest deeper than {_limits.MaxDepth} (RedisSessionStateProviderStoreOptions.MaxLegacyObjectDepth)");
        }

        switch (raw)
        {
            case null:
                return target.IsValueType && Nullable.GetUnderlyingType(target) is null ? throw Mismatch("null", target) : null;
            case PrimitiveTypeRecord primitive:
                return Value(primitive.Value, target, depth);
            case ClassRecord record:
                return _done.TryGetValue(record, out var done) ? Fit(done, target) : Class(record, target, depth + 1);
            case ArrayRecord array:
                return _done.TryGetValue(array, out var doneArray) ? Fit(doneArray, target) : Array(array, target, depth + 1);
            case SerializationRecord other:
                throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its record {other.RecordType} is not supported");
            default:
                return Fit(raw, target);
        }
    }

    private object Fit(object value, Type target) =>
        Fits(value.GetType(), target) ? value : throw Mismatch(LegacyObjectErrors.Describe(value.GetType()), target);

    private static bool Fits(Type type, Type target) => target.IsAssignableFrom(type) || Nullable.GetUnderlyingType(target) == type;

    private object Class(ClassRecord record, Type target, int depth)
    {
        var type = _map.Resolve(record.TypeName, out var mapped) ?? throw NotMapped(record.TypeName);
        if (!Fits(type, target))
        {
            throw Mismatch(record.TypeName.FullName, target);
        }

        if (type == typeof(Guid))
        {
            var guid = new Guid(record.GetInt32("_a"), record.GetInt16("_b"), record.GetInt16("_c"), record.GetByte("_d"), record.GetByte("_e"),
                record.GetByte("_f"), record.GetByte("_g"), record.GetByte("_h"), record.GetByte("_i"), record.GetByte("_j"), record.GetByte("_k"));
            return _done[record] = guid;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            return List(record, type, depth);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return Dictionary(record, type, depth);
        }

        if (mapped is null)
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}it holds a '{record.TypeName.FullName}' record, which is not supported here");
        }

        _seen.Add((mapped, record.TypeName.AssemblyName!.FullName, record.MemberNames.ToArray()));
        if (type.IsEnum)
        {
            var underlying = record.GetRawValue("value__");
            return _done[record] = underlying is not null && underlying.GetType() == Enum.GetUnderlyingType(type)
                ? Enum.ToObject(type, underlying)
                : throw Mismatch(LegacyObjectErrors.Describe(underlying?.GetType()), Enum.GetUnderlyingType(type));
        }

        var instance = Create(type);
        _done[record] = instance;
        foreach (var name in record.MemberNames)
        {
            if (mapped.Member(name) is not { } member)
            {
                // Read without it (as BinaryFormatter would); writing the item back fails, naming the member.
                continue;
            }

            _path.Add(member.Name);
            member.SetValue(instance, Value(record.GetRawValue(name), member.Type, depth));
            _path.RemoveAt(_path.Count - 1);
        }

        return instance;
    }

    private IList List(ClassRecord record, Type type, int depth)
    {
        var list = (IList)Activator.CreateInstance(type)!;
        _done[record] = list;
        var size = record.GetInt32("_size");
        var items = record.GetRawValue("_items");
        var array = (Array?)Value(items, type.GetGenericArguments()[0].MakeArrayType(), depth);
        if (size < 0 || size > (array?.Length ?? 0))
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its list says it holds {size} items of {array?.Length ?? 0}");
        }

        for (var i = 0; i < size; i++)
        {
            list.Add(array!.GetValue(i));
        }

        return list;
    }

    private IDictionary Dictionary(ClassRecord record, Type type, int depth)
    {
        var arguments = type.GetGenericArguments();
        var dictionary = (IDictionary)Activator.CreateInstance(type)!;
        _done[record] = dictionary;
        if (record.HasMember("Comparer") && record.GetRawValue("Comparer") is ClassRecord comparer && !IsDefaultComparer(comparer.TypeName))
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its dictionary compares keys with '{comparer.TypeName.FullName}'; only the default comparer is supported");
        }

        if (!record.HasMember("KeyValuePairs") || record.GetRawValue("KeyValuePairs") is not ArrayRecord pairs)
        {
            return dictionary;
        }

        Budget(pairs);
        if (pairs.Rank != 1 || pairs is not SZArrayRecord<SerializationRecord> records)
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its dictionary's pairs are not a list of key-value pairs");
        }

        foreach (var pair in records.GetArray(allowNulls: false))
        {
            if (pair is not ClassRecord entry || _map.Resolve(entry.TypeName, out _) != typeof(KeyValuePair<,>).MakeGenericType(arguments))
            {
                throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its dictionary holds a '{pair?.TypeName.FullName}' where a key-value pair was expected");
            }

            var key = Value(entry.GetRawValue("key"), arguments[0], depth + 1) ?? throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its dictionary has a null key");
            if (dictionary.Contains(key))
            {
                throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its dictionary has the key '{key}' twice");
            }

            _path.Add("[" + key + "]");
            dictionary.Add(key, Value(entry.GetRawValue("value"), arguments[1], depth + 1));
            _path.RemoveAt(_path.Count - 1);
        }

        return dictionary;
    }

    private static bool IsDefaultComparer(TypeName name) =>
        LegacyTypeMap.IsSystemAssembly(name.AssemblyName) && name.IsConstructedGenericType
        && name.GetGenericTypeDefinition().FullName is "System.Collections.Generic.GenericEqualityComparer`1"
            or "System.Collections.Generic.ObjectEqualityComparer`1" or "System.Collections.Generic.EnumEqualityComparer`1";

    private Array Array(ArrayRecord array, Type target, int depth)
    {
        var type = _map.Resolve(array.TypeName, out _) ?? throw NotMapped(array.TypeName);
        if (array.Rank != 1 || !type.IsSZArray)
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}it holds a multi-dimensional or jagged array ('{array.TypeName.FullName}'), which is not supported");
        }

        if (!Fits(type, target))
        {
            throw Mismatch(array.TypeName.FullName, target);
        }

        Budget(array);
        var element = type.GetElementType()!;
        object?[] items;
        switch (array)
        {
            case SZArrayRecord<SerializationRecord> records:
                items = records.GetArray(allowNulls: true);
                break;
            case SZArrayRecord<object> objects:
                items = objects.GetArray(allowNulls: true);
                break;
            default:
                // Primitives and strings: the decoder fills the array of the exact type, or refuses.
                var values = array.GetArray(type, allowNulls: true);
                _done[array] = values;
                return values;
        }

        var result = System.Array.CreateInstance(element, items.Length);
        _done[array] = result;
        for (var i = 0; i < items.Length; i++)
        {
            _path.Add("[" + i + "]");
            result.SetValue(Value(items[i], element, depth), i);
            _path.RemoveAt(_path.Count - 1);
        }

        return result;
    }

    private void Budget(ArrayRecord array)
    {
        long length = 1;
        foreach (var dimension in array.Lengths)
        {
            length *= dimension;
        }

        _elements += length;
        if (length > _limits.MaxElements || _elements > _limits.MaxElements)
        {
            throw LegacyObjectErrors.Unreadable(_item, $"{Where()}its arrays, lists and dictionaries declare more than {_limits.MaxElements} elements (RedisSessionStateProviderStoreOptions.MaxLegacyObjectElements)");
        }
    }

    private static object Create(Type type)
    {
        if (type.IsValueType)
        {
            return Activator.CreateInstance(type)!;
        }

        // As BinaryFormatter, no constructor is needed; the type's own parameterless one runs when it has one.
        return type.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes) is { } constructor
            ? constructor.Invoke(null)
            : RuntimeHelpers.GetUninitializedObject(type);
    }

    /// <summary>The error for a type name that does not resolve, naming the innermost type in it that is not mapped (an array's element, a list's item type).</summary>
    private SessionSerializationException NotMapped(TypeName name)
    {
        while (true)
        {
            if (name.IsSZArray)
            {
                name = name.GetElementType();
                continue;
            }

            if (name.IsConstructedGenericType && name.GetGenericArguments().FirstOrDefault(a => _map.Resolve(a, out _) is null) is { } argument)
            {
                name = argument;
                continue;
            }

            return LegacyObjectErrors.NotMapped(_item, name, Where());
        }
    }

    private string Where() => _path.Count == 0 ? string.Empty : "at " + string.Join(".", _path).Replace(".[", "[", StringComparison.Ordinal) + ": ";

    private SessionSerializationException Mismatch(string what, Type target) =>
        LegacyObjectErrors.Unreadable(_item, $"{Where()}the data holds a '{what}' where the mapped type has a '{LegacyObjectErrors.Describe(target)}'");
}
