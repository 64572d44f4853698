using System.Collections;
using System.Globalization;
using System.Text;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Writes mapped .NET objects as the classic application's BinaryFormatter does (MS-NRBF), so that its BinaryFormatter
/// reads them back as its own classes: class records with the legacy type and assembly names (the ones the data had, or
/// the mapping's), the members the legacy type serialized, in its order, typed as BinaryFormatter types them; the BCL
/// types as the .NET Framework's (<c>mscorlib</c>) records, <c>List&lt;T&gt;</c> and <c>Dictionary&lt;TKey,TValue&gt;</c> by
/// their serialized members. Objects are written once each and referenced after (shared references and cycles survive).
/// The whole payload is built before anything is stored: a value that cannot be written faithfully fails the write,
/// naming the item, the type and the member, and nothing is written.
/// </summary>
internal sealed partial class LegacyObjectWriter
{
    private readonly string _item;
    private readonly Type _rootType;
    private readonly LegacyTypeMap _map;
    private readonly MemoryStream _stream = new();
    private readonly BinaryWriter _w;
    private readonly Dictionary<object, int> _ids = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<(object Value, int Id)> _pending = new();
    private readonly Dictionary<string, int> _libraries = new(StringComparer.Ordinal);
    private int _lastId;

    private LegacyObjectWriter(string item, Type rootType, LegacyTypeMap map)
    {
        _item = item;
        _rootType = rootType;
        _map = map;
        _w = new BinaryWriter(_stream, new UTF8Encoding(false, true));
    }

    /// <summary>True when values of <paramref name="type"/> are legacy objects: a mapped type, or a list, dictionary, array or nullable of one.</summary>
    public static bool Involves(Type type, LegacyTypeMap map) =>
        map.Mapped(type) is not null
        || (type.IsSZArray && Involves(type.GetElementType()!, map))
        || (type.IsGenericType && !type.IsGenericTypeDefinition
            && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(List<>) || definition == typeof(Dictionary<,>) || definition == typeof(Nullable<>))
            && type.GetGenericArguments().Any(a => Involves(a, map)));

    /// <summary>The MS-NRBF payload of <paramref name="value"/> (not null).</summary>
    public static byte[] Write(string item, object value, LegacyTypeMap map)
    {
        var writer = new LegacyObjectWriter(item, value.GetType(), map);
        try
        {
            return writer.Payload(value);
        }
        catch (Exception ex) when (ex is not SessionSerializationException and not OutOfMemoryException)
        {
            throw LegacyObjectErrors.Unwritable(item, value.GetType(), ex.Message);
        }
    }

    private byte[] Payload(object root)
    {
        var rootId = Reference(root);
        _w.Write(RecordKind.SerializedStreamHeader);
        _w.Write(rootId);
        _w.Write(-1);
        _w.Write(1);
        _w.Write(0);
        while (_pending.TryDequeue(out var next))
        {
            Record(next.Value, next.Id, depth: 0);
        }

        _w.Write(RecordKind.MessageEnd);
        _w.Flush();
        return _stream.ToArray();
    }

    /// <summary>The id of a reference type's object, queued to be written at the top level the first time.</summary>
    private int Reference(object value)
    {
        if (!_ids.TryGetValue(value, out var id))
        {
            _ids[value] = id = ++_lastId;
            _pending.Enqueue((value, id));
        }

        return id;
    }

    /// <summary>One object's record: top level (queued) or inline (a value type inside another record).</summary>
    private void Record(object value, int id, int depth)
    {
        if (depth > 64)
        {
            throw Unwritable($"its structs nest deeper than 64 ('{value.GetType()}')");
        }

        var type = value.GetType();
        switch (value)
        {
            case string text:
                _w.Write(RecordKind.BinaryObjectString);
                _w.Write(id);
                _w.Write(text);
                return;
            case Array array:
                ArrayRecord(array, id, depth);
                return;
            case Guid guid:
                GuidRecord(guid, id);
                return;
            case ComparerStub comparer:
                SystemClassHeader(id, comparer.Name, [], []);
                return;
            case PairsStub pairs:
                PairsRecord(pairs, id, depth);
                return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            ListRecord((IList)value, type, id);
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            DictionaryRecord((IDictionary)value, type, id);
        }
        else if (_map.Mapped(type) is { } mapped)
        {
            MappedRecord(value, mapped, id, depth);
        }
        else
        {
            throw Unwritable($"it holds a '{type}', which is neither mapped (MapLegacyType) nor a supported BCL type");
        }
    }

    private void MappedRecord(object value, LegacyMappedType mapped, int id, int depth)
    {
        var type = mapped.Type;
        if (type.IsEnum)
        {
            var underlying = Enum.GetUnderlyingType(type);
            var enumInfo = Info(underlying, type, "value__");
            var enumLibrary = Library(mapped.AssemblyName);
            ClassHeader(id, mapped.FullName, ["value__"], [enumInfo], enumLibrary);
            Primitive(Convert.ChangeType(value, underlying, CultureInfo.InvariantCulture), enumInfo.Primitive);
            return;
        }

        var names = mapped.LegacyMembers;
        var members = new LegacyMember[names.Count];
        var infos = new MemberInfo[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            members[i] = mapped.Member(names[i]) ?? throw Unwritable(
                $"the legacy type '{mapped.FullName}' has the member '{names[i]}', which '{type}' has no property or field for "
                + $"(add one, or name it with MapLegacyType<{type.Name}>(...).MapMember(\"{names[i]}\", ...)); writing the item without it would lose it");
            infos[i] = Info(members[i].Type, type, members[i].Name);
        }

        var library = Library(mapped.AssemblyName);
        ClassHeader(id, mapped.FullName, names, infos, library);
        for (var i = 0; i < members.Length; i++)
        {
            Member(members[i].GetValue(value), infos[i], depth);
        }
    }

    private void ListRecord(IList list, Type type, int id)
    {
        var element = type.GetGenericArguments()[0];
        var items = System.Array.CreateInstance(element, list.Count);
        list.CopyTo(items, 0);
        var itemsInfo = Info(items.GetType(), type, "_items");
        SystemClassHeader(id, Name(type, type, "the list"), ["_items", "_size", "_version"], [itemsInfo, MemberInfo.Int32, MemberInfo.Int32]);
        Member(items, itemsInfo, 0);
        _w.Write(list.Count);
        _w.Write(0);
    }

    private void DictionaryRecord(IDictionary dictionary, Type type, int id)
    {
        var arguments = type.GetGenericArguments();
        var comparer = LegacyTypeNames.Comparer(arguments[0], _map) ?? throw Unwritable($"its dictionary's key type '{arguments[0]}' is not supported");
        var pairsType = typeof(KeyValuePair<,>).MakeGenericType(arguments).MakeArrayType();
        var pairsInfo = new MemberInfo(BinaryKind.SystemClass, 0, Name(pairsType, type, "the dictionary's pairs"), 0);
        var comparerInfo = new MemberInfo(BinaryKind.SystemClass, 0, comparer, 0);
        var count = dictionary.Count;
        if (count == 0)
        {
            SystemClassHeader(id, Name(type, type, "the dictionary"), ["Version", "Comparer", "HashSize"], [MemberInfo.Int32, comparerInfo, MemberInfo.Int32]);
        }
        else
        {
            SystemClassHeader(id, Name(type, type, "the dictionary"), ["Version", "Comparer", "HashSize", "KeyValuePairs"], [MemberInfo.Int32, comparerInfo, MemberInfo.Int32, pairsInfo]);
        }

        _w.Write(count);
        Member(new ComparerStub(comparer), comparerInfo, 0);
        _w.Write(count == 0 ? 0 : Prime(count));
        if (count > 0)
        {
            Member(new PairsStub(dictionary, arguments[0], arguments[1]), pairsInfo, 0);
        }
    }

    private void PairsRecord(PairsStub pairs, int id, int depth)
    {
        var pairType = typeof(KeyValuePair<,>).MakeGenericType(pairs.Key, pairs.Value);
        var pairName = Name(pairType, pairType, "the dictionary's pair");
        var keyInfo = Info(pairs.Key, pairType, "key");
        var valueInfo = Info(pairs.Value, pairType, "value");
        _w.Write(RecordKind.BinaryArray);
        _w.Write(id);
        _w.Write((byte)0); // Single
        _w.Write(1);
        _w.Write(pairs.Dictionary.Count);
        TypeInfo(new MemberInfo(BinaryKind.SystemClass, 0, pairName, 0));
        foreach (DictionaryEntry entry in pairs.Dictionary)
        {
            SystemClassHeader(++_lastId, pairName, ["key", "value"], [keyInfo, valueInfo]);
            Member(entry.Key, keyInfo, depth + 1);
            Member(entry.Value, valueInfo, depth + 1);
        }
    }

    private void GuidRecord(Guid guid, int id)
    {
        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes);
        SystemClassHeader(id, "System.Guid", ["_a", "_b", "_c", "_d", "_e", "_f", "_g", "_h", "_i", "_j", "_k"],
            [MemberInfo.Int32, MemberInfo.Int16, MemberInfo.Int16, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte, MemberInfo.Byte]);
        _w.Write(bytes[..10]);
        _w.Write(bytes[10..]);
    }

    private void ArrayRecord(Array array, int id, int depth)
    {
        var element = array.GetType().GetElementType()!;
        if (!array.GetType().IsSZArray)
        {
            throw Unwritable($"it holds a multi-dimensional array ('{array.GetType()}'), which is not supported");
        }

        if (element == typeof(string) || element == typeof(object))
        {
            // string[] and object[] have records of their own, each element written as a member of that type.
            var (kind, member) = element == typeof(string)
                ? (RecordKind.ArraySingleString, MemberInfo.String)
                : (RecordKind.ArraySingleObject, MemberInfo.Object);
            _w.Write(kind);
            _w.Write(id);
            _w.Write(array.Length);
            foreach (var item in array)
            {
                Member(item, member, depth + 1);
            }

            return;
        }

        if (PrimitiveCode(element) is var code and not 0)
        {
            _w.Write(RecordKind.ArraySinglePrimitive);
            _w.Write(id);
            _w.Write(array.Length);
            _w.Write(code);
            foreach (var item in array)
            {
                Primitive(item, code);
            }

            return;
        }

        var info = Info(element, array.GetType(), "[]");
        _w.Write(RecordKind.BinaryArray);
        _w.Write(id);
        _w.Write((byte)0); // Single
        _w.Write(1);
        _w.Write(array.Length);
        TypeInfo(info);
        foreach (var item in array)
        {
            Member(item, info, depth + 1);
        }
    }

    /// <summary>A member's (or an element's) value, as its declared kind says.</summary>
    private void Member(object? value, MemberInfo info, int depth)
    {
        if (info.Kind == BinaryKind.Primitive)
        {
            Primitive(value!, info.Primitive);
            return;
        }

        switch (value)
        {
            case null:
                _w.Write(RecordKind.ObjectNull);
                return;
            case string text:
                _w.Write(RecordKind.BinaryObjectString);
                _w.Write(++_lastId);
                _w.Write(text);
                return;
        }

        var type = value.GetType();
        if (PrimitiveCode(type) is var code and not 0)
        {
            _w.Write(RecordKind.MemberPrimitiveTyped);
            _w.Write(code);
            Primitive(value, code);
        }
        else if (type.IsValueType)
        {
            // Value types are written inline, as BinaryFormatter does.
            Record(value, ++_lastId, depth + 1);
        }
        else
        {
            _w.Write(RecordKind.MemberReference);
            _w.Write(Reference(value));
        }
    }

    private int Library(string assembly)
    {
        if (!_libraries.TryGetValue(assembly, out var id))
        {
            _libraries[assembly] = id = ++_lastId;
            _w.Write(RecordKind.BinaryLibrary);
            _w.Write(id);
            _w.Write(assembly);
        }

        return id;
    }

    private string Name(Type type, Type owner, string member) =>
        LegacyTypeNames.FullName(type, _map) ?? throw Unwritable($"'{owner}' has {member} of type '{type}', which is neither mapped (MapLegacyType) nor a supported BCL type");

    private SessionSerializationException Unwritable(string what) => LegacyObjectErrors.Unwritable(_item, _rootType, what);

    private static int Prime(int min)
    {
        for (var candidate = Math.Max(min, 3) | 1; ; candidate += 2)
        {
            var prime = true;
            for (var divisor = 3; divisor * divisor <= candidate; divisor += 2)
            {
                if (candidate % divisor == 0)
                {
                    prime = false;
                    break;
                }
            }

            if (prime)
            {
                return candidate;
            }
        }
    }

    /// <summary>The comparer a dictionary is written with (a record with no members, as the .NET Framework's default comparers are).</summary>
    private sealed record ComparerStub(string Name);

    /// <summary>A dictionary's <c>KeyValuePairs</c> array.</summary>
    private sealed record PairsStub(IDictionary Dictionary, Type Key, Type Value);
}
