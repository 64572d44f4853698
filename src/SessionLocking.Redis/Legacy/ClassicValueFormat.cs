using System.Buffers.Binary;
using System.Text;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// One item's value in the classic <c>AltSerialization</c> format that RedisSessionStateProvider 5 stores inside its
/// <c>SessionStateItemCollection</c>: a type byte, then the value as a <c>BinaryWriter</c> writes it. Primitives map to
/// their .NET types both ways. A <c>byte[]</c> is written as the classic side writes it, a type byte 20 (Object) and the
/// fixed BinaryFormatter record of a byte array, and only that exact shape is read back here: any other Object item is a
/// BinaryFormatter payload, which only the mapped legacy types read (<see cref="LegacyObjectFormat"/>; here a clear error
/// names the item). Values of other types written with
/// <c>Set&lt;T&gt;</c> become a String item holding JSON, which the classic side can read as a string.
/// </summary>
internal static class ClassicValueFormat
{
    public const byte String = 1;
    public const byte Int32 = 2;
    public const byte Boolean = 3;
    public const byte DateTime = 4;
    public const byte Decimal = 5;
    public const byte Byte = 6;
    public const byte Char = 7;
    public const byte Single = 8;
    public const byte Double = 9;
    public const byte SByte = 10;
    public const byte Int16 = 11;
    public const byte Int64 = 12;
    public const byte UInt16 = 13;
    public const byte UInt32 = 14;
    public const byte UInt64 = 15;
    public const byte TimeSpan = 16;
    public const byte Guid = 17;
    public const byte Object = 20;
    public const byte Null = 21;

    // The BinaryFormatter stream of a byte[] (MS-NRBF): the serialization header (record 0, root id 1, header id -1,
    // version 1.0), an ArraySinglePrimitive record (15) with object id 1, the length and primitive type Byte (2), the
    // bytes, then MessageEnd (11).
    private static ReadOnlySpan<byte> ByteArrayHeader => [0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0, 15, 1, 0, 0, 0];

    private const byte MessageEnd = 11;
    private const byte PrimitiveByte = 2;

    private static readonly Dictionary<Type, byte> TypeIds = new()
    {
        [typeof(string)] = String,
        [typeof(int)] = Int32,
        [typeof(bool)] = Boolean,
        [typeof(DateTime)] = DateTime,
        [typeof(decimal)] = Decimal,
        [typeof(byte)] = Byte,
        [typeof(char)] = Char,
        [typeof(float)] = Single,
        [typeof(double)] = Double,
        [typeof(sbyte)] = SByte,
        [typeof(short)] = Int16,
        [typeof(long)] = Int64,
        [typeof(ushort)] = UInt16,
        [typeof(uint)] = UInt32,
        [typeof(ulong)] = UInt64,
        [typeof(System.TimeSpan)] = TimeSpan,
        [typeof(Guid)] = Guid,
    };

    /// <summary>True for the types the classic format stores natively (and byte arrays).</summary>
    public static bool IsNative(Type type) => TypeIds.ContainsKey(type) || type == typeof(byte[]);

    public static byte[] EncodeNull() => [Null];

    /// <summary>Encodes a native value; <paramref name="value"/> must be of a type <see cref="IsNative"/> accepts.</summary>
    public static byte[] EncodeNative(object value)
    {
        if (value is byte[] bytes)
        {
            return EncodeBytes(bytes);
        }

        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, new UTF8Encoding(false, true), leaveOpen: true))
        {
            writer.Write(TypeIds[value.GetType()]);
            switch (value)
            {
                case string v: writer.Write(v); break;
                case int v: writer.Write(v); break;
                case bool v: writer.Write(v); break;
                case System.DateTime v: writer.Write(v.Ticks); break;
                case decimal v:
                    foreach (var part in decimal.GetBits(v))
                    {
                        writer.Write(part);
                    }

                    break;
                case byte v: writer.Write(v); break;
                case char v: writer.Write(v); break;
                case float v: writer.Write(v); break;
                case double v: writer.Write(v); break;
                case sbyte v: writer.Write(v); break;
                case short v: writer.Write(v); break;
                case long v: writer.Write(v); break;
                case ushort v: writer.Write(v); break;
                case uint v: writer.Write(v); break;
                case ulong v: writer.Write(v); break;
                case System.TimeSpan v: writer.Write(v.Ticks); break;
                case System.Guid v: writer.Write(v.ToByteArray()); break;
                default: throw new ArgumentException($"'{value.GetType()}' is not a classic native type.", nameof(value));
            }
        }

        return stream.ToArray();
    }

    /// <summary>A byte array as the classic side stores it: Object (20) and the BinaryFormatter record of a byte[].</summary>
    public static byte[] EncodeBytes(ReadOnlySpan<byte> value)
    {
        var stored = new byte[1 + ByteArrayHeader.Length + 5 + value.Length + 1];
        stored[0] = Object;
        ByteArrayHeader.CopyTo(stored.AsSpan(1));
        var at = 1 + ByteArrayHeader.Length;
        BinaryPrimitives.WriteInt32LittleEndian(stored.AsSpan(at), value.Length);
        stored[at + 4] = PrimitiveByte;
        value.CopyTo(stored.AsSpan(at + 5));
        stored[^1] = MessageEnd;
        return stored;
    }

    /// <summary>True when <paramref name="stored"/> is exactly the classic record of a byte array.</summary>
    public static bool IsBytes(byte[] stored) => TryReadBytes(stored, out _);

    public static bool TryReadBytes(byte[] stored, out ReadOnlySpan<byte> value)
    {
        value = default;
        var head = 1 + ByteArrayHeader.Length;
        if (stored.Length < head + 6 || stored[0] != Object || !stored.AsSpan(1, ByteArrayHeader.Length).SequenceEqual(ByteArrayHeader))
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(stored.AsSpan(head));
        if (length < 0 || stored[head + 4] != PrimitiveByte || stored.Length != head + 5 + (long)length + 1 || stored[^1] != MessageEnd)
        {
            return false;
        }

        value = stored.AsSpan(head + 5, length);
        return true;
    }

    /// <summary>Reads a stored value; fails with <see cref="SessionSerializationException"/> naming the item for BinaryFormatter objects and malformed data.</summary>
    public static object? Decode(string name, byte[] stored)
    {
        if (stored.Length == 0)
        {
            throw Malformed(name, "it is empty");
        }

        if (TryReadBytes(stored, out var bytes))
        {
            return bytes.ToArray();
        }

        try
        {
            using var reader = new BinaryReader(new MemoryStream(stored, writable: false), new UTF8Encoding(false, true));
            var id = reader.ReadByte();
            object? value = id switch
            {
                String => reader.ReadString(),
                Int32 => reader.ReadInt32(),
                Boolean => reader.ReadBoolean(),
                DateTime => new System.DateTime(reader.ReadInt64()),
                Decimal => new decimal([reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32()]),
                Byte => reader.ReadByte(),
                Char => reader.ReadChar(),
                Single => reader.ReadSingle(),
                Double => reader.ReadDouble(),
                SByte => reader.ReadSByte(),
                Int16 => reader.ReadInt16(),
                Int64 => reader.ReadInt64(),
                UInt16 => reader.ReadUInt16(),
                UInt32 => reader.ReadUInt32(),
                UInt64 => reader.ReadUInt64(),
                TimeSpan => new System.TimeSpan(reader.ReadInt64()),
                Guid => new System.Guid(reader.ReadBytes(16) is { Length: 16 } g ? g : throw new EndOfStreamException()),
                Null => null,
                Object => throw new SessionSerializationException(name, "BinaryFormatter object",
                    $"The session item '{name}' was stored by the classic application as a BinaryFormatter object: read it with Get<T>() or the indexer as the type mapped to its legacy type " +
                    "with MapLegacyType (it is not a valid BinaryFormatter stream, or it was read as bytes); or, on the classic side, store it as a primitive or as a JSON string instead (docs/legacy-redis.md). Items the new side does not touch are kept byte for byte."),
                _ => throw Malformed(name, $"its classic type id {id} is not supported"),
            };
            if (reader.BaseStream.Position != stored.Length)
            {
                throw Malformed(name, "it has bytes after its value");
            }

            return value;
        }
        catch (Exception ex) when (ex is EndOfStreamException or DecoderFallbackException or ArgumentException or FormatException)
        {
            throw Malformed(name, "it ends too early or is malformed", ex);
        }
    }

    private static SessionSerializationException Malformed(string name, string what, Exception? inner = null) =>
        new(name, "classic value", $"The session item '{name}' is not a valid classic session value: {what}.", inner);
}
