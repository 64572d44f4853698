using System.Globalization;

namespace SessionLocking.Redis.Legacy;

/// <summary>The record layouts of MS-NRBF that <see cref="LegacyObjectWriter"/> writes.</summary>
internal sealed partial class LegacyObjectWriter
{
    /// <summary>How BinaryFormatter types a member of <paramref name="declared"/> type (member <paramref name="member"/> of <paramref name="owner"/>).</summary>
    private MemberInfo Info(Type declared, Type owner, string member)
    {
        if (PrimitiveCode(declared) is var code and not 0)
        {
            return new MemberInfo(BinaryKind.Primitive, code, null, 0);
        }

        if (declared == typeof(string))
        {
            return MemberInfo.String;
        }

        if (declared == typeof(object))
        {
            return MemberInfo.Object;
        }

        if (declared == typeof(string[]))
        {
            return new MemberInfo(BinaryKind.StringArray, 0, null, 0);
        }

        if (declared == typeof(object[]))
        {
            return new MemberInfo(BinaryKind.ObjectArray, 0, null, 0);
        }

        if (declared.IsSZArray && PrimitiveArrayCode(declared.GetElementType()!) is var elementCode and not 0)
        {
            return new MemberInfo(BinaryKind.PrimitiveArray, elementCode, null, 0);
        }

        var name = LegacyTypeNames.FullName(declared, _map)
            ?? throw Unwritable($"'{owner}' has the member '{member}' of type '{declared}', which is neither mapped (MapLegacyType) nor a supported BCL type");
        var assembly = LegacyTypeNames.Assembly(declared, _map);
        return assembly == LegacyTypeMap.Mscorlib
            ? new MemberInfo(BinaryKind.SystemClass, 0, name, 0)
            : new MemberInfo(BinaryKind.Class, 0, name, Library(assembly));
    }

    /// <summary>MS-NRBF's PrimitiveTypeEnumeration of a type, 0 when it is not a primitive there.</summary>
    private static byte PrimitiveCode(Type type) =>
        type == typeof(bool) ? (byte)1
        : type == typeof(byte) ? (byte)2
        : type == typeof(char) ? (byte)3
        : type == typeof(decimal) ? (byte)5
        : type == typeof(double) ? (byte)6
        : type == typeof(short) ? (byte)7
        : type == typeof(int) ? (byte)8
        : type == typeof(long) ? (byte)9
        : type == typeof(sbyte) ? (byte)10
        : type == typeof(float) ? (byte)11
        : type == typeof(TimeSpan) ? (byte)12
        : type == typeof(DateTime) ? (byte)13
        : type == typeof(ushort) ? (byte)14
        : type == typeof(uint) ? (byte)15
        : type == typeof(ulong) ? (byte)16
        : (byte)0;

    /// <summary>The element types whose arrays BinaryFormatter types as PrimitiveArray (decimal, DateTime and TimeSpan arrays are system classes).</summary>
    private static byte PrimitiveArrayCode(Type element) =>
        element == typeof(decimal) || element == typeof(DateTime) || element == typeof(TimeSpan) ? (byte)0 : PrimitiveCode(element);

    private void Primitive(object value, byte code)
    {
        switch (code)
        {
            case 1: _w.Write((bool)value); break;
            case 2: _w.Write((byte)value); break;
            case 3: _w.Write((char)value); break;
            case 5: _w.Write(((decimal)value).ToString(CultureInfo.InvariantCulture)); break;
            case 6: _w.Write((double)value); break;
            case 7: _w.Write((short)value); break;
            case 8: _w.Write((int)value); break;
            case 9: _w.Write((long)value); break;
            case 10: _w.Write((sbyte)value); break;
            case 11: _w.Write((float)value); break;
            case 12: _w.Write(((TimeSpan)value).Ticks); break;
            case 13:
                // The DateTime's ticks with its kind in the top two bits, as the .NET Framework writes it.
                var date = (DateTime)value;
                var kind = date.Kind switch { DateTimeKind.Utc => 1UL << 62, DateTimeKind.Local => 2UL << 62, _ => 0UL };
                _w.Write((ulong)date.Ticks | kind);
                break;
            case 14: _w.Write((ushort)value); break;
            case 15: _w.Write((uint)value); break;
            case 16: _w.Write((ulong)value); break;
            default: throw new ArgumentOutOfRangeException(nameof(code));
        }
    }

    /// <summary>ClassWithMembersAndTypes: a class of a library.</summary>
    private void ClassHeader(int id, string name, IReadOnlyList<string> members, IReadOnlyList<MemberInfo> infos, int library)
    {
        _w.Write(RecordKind.ClassWithMembersAndTypes);
        ClassInfo(id, name, members, infos);
        _w.Write(library);
    }

    /// <summary>SystemClassWithMembersAndTypes: a class of mscorlib.</summary>
    private void SystemClassHeader(int id, string name, IReadOnlyList<string> members, IReadOnlyList<MemberInfo> infos)
    {
        _w.Write(RecordKind.SystemClassWithMembersAndTypes);
        ClassInfo(id, name, members, infos);
    }

    private void ClassInfo(int id, string name, IReadOnlyList<string> members, IReadOnlyList<MemberInfo> infos)
    {
        _w.Write(id);
        _w.Write(name);
        _w.Write(members.Count);
        foreach (var member in members)
        {
            _w.Write(member);
        }

        foreach (var info in infos)
        {
            _w.Write((byte)info.Kind);
        }

        foreach (var info in infos)
        {
            AdditionalInfo(info);
        }
    }

    /// <summary>A BinaryArray's element type: its kind and what it needs.</summary>
    private void TypeInfo(MemberInfo info)
    {
        _w.Write((byte)info.Kind);
        AdditionalInfo(info);
    }

    private void AdditionalInfo(MemberInfo info)
    {
        switch (info.Kind)
        {
            case BinaryKind.Primitive or BinaryKind.PrimitiveArray:
                _w.Write(info.Primitive);
                break;
            case BinaryKind.SystemClass:
                _w.Write(info.ClassName!);
                break;
            case BinaryKind.Class:
                _w.Write(info.ClassName!);
                _w.Write(info.Library);
                break;
        }
    }

    private enum BinaryKind : byte
    {
        Primitive = 0,
        String = 1,
        Object = 2,
        SystemClass = 3,
        Class = 4,
        ObjectArray = 5,
        StringArray = 6,
        PrimitiveArray = 7,
    }

    /// <summary>One member's type as MS-NRBF's MemberTypeInfo says it.</summary>
    private readonly record struct MemberInfo(BinaryKind Kind, byte Primitive, string? ClassName, int Library)
    {
        public static readonly MemberInfo String = new(BinaryKind.String, 0, null, 0);
        public static readonly MemberInfo Object = new(BinaryKind.Object, 0, null, 0);
        public static readonly MemberInfo Byte = new(BinaryKind.Primitive, 2, null, 0);
        public static readonly MemberInfo Int16 = new(BinaryKind.Primitive, 7, null, 0);
        public static readonly MemberInfo Int32 = new(BinaryKind.Primitive, 8, null, 0);
    }

    private static class RecordKind
    {
        public const byte SerializedStreamHeader = 0;
        public const byte SystemClassWithMembersAndTypes = 4;
        public const byte ClassWithMembersAndTypes = 5;
        public const byte BinaryObjectString = 6;
        public const byte BinaryArray = 7;
        public const byte MemberPrimitiveTyped = 8;
        public const byte MemberReference = 9;
        public const byte ObjectNull = 10;
        public const byte MessageEnd = 11;
        public const byte BinaryLibrary = 12;
        public const byte ArraySinglePrimitive = 15;
        public const byte ArraySingleObject = 16;
        public const byte ArraySingleString = 17;
    }
}
