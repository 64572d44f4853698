using System.Text;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The binary layout of a classic <c>SessionStateItemCollection</c> (what RedisSessionStateProvider 5 stores under
/// <c>{app_id}_SessionStateItemCollection</c>): Int32 count; when count &gt; 0, Int32 index of the item with a null
/// name (-1 for none), the names (BinaryWriter strings: 7-bit length, UTF-8) except the null one, count Int32 end
/// offsets of the values (relative to the first value), then the values back to back, each in the classic
/// <c>AltSerialization</c> format (<see cref="ClassicValueFormat"/>). Values are kept as opaque bytes here, so an item
/// nobody changed is written back byte for byte.
/// </summary>
internal static class ClassicItemCollection
{
    /// <summary>The name an item with a null name gets here (classic allowed <c>Session[null]</c>); written back as null.</summary>
    public const string NullName = "\0null";

    /// <summary>Reads the items in their stored order; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static List<KeyValuePair<string, byte[]>> Read(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var items = new List<KeyValuePair<string, byte[]>>();
        try
        {
            using var reader = new BinaryReader(new MemoryStream(data, writable: false), new UTF8Encoding(false, true));
            var count = reader.ReadInt32();
            if (count < 0 || count > data.Length)
            {
                throw new FormatException($"item count {count}");
            }

            if (count == 0)
            {
                return items;
            }

            var nullIndex = reader.ReadInt32();
            if (nullIndex < -1 || nullIndex >= count)
            {
                throw new FormatException($"null-name index {nullIndex}");
            }

            var names = new string[count];
            for (var i = 0; i < count; i++)
            {
                names[i] = i == nullIndex ? NullName : reader.ReadString();
            }

            var ends = new int[count];
            for (var i = 0; i < count; i++)
            {
                ends[i] = reader.ReadInt32();
                if (ends[i] < (i == 0 ? 0 : ends[i - 1]))
                {
                    throw new FormatException($"offset of item {i}");
                }
            }

            var valuesStart = (int)reader.BaseStream.Position;
            if (valuesStart + (long)ends[count - 1] > data.Length)
            {
                throw new FormatException("the values are shorter than their offsets say");
            }

            var start = 0;
            for (var i = 0; i < count; i++)
            {
                items.Add(new(names[i], data.AsSpan(valuesStart + start, ends[i] - start).ToArray()));
                start = ends[i];
            }

            return items;
        }
        catch (Exception ex) when (ex is EndOfStreamException or DecoderFallbackException or IOException)
        {
            throw new FormatException("the collection ends too early or holds a malformed name", ex);
        }
    }

    /// <summary>Writes items (name, stored value) in the classic layout.</summary>
    public static byte[] Write(IReadOnlyList<KeyValuePair<string, byte[]>> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, new UTF8Encoding(false, true), leaveOpen: true))
        {
            writer.Write(items.Count);
            if (items.Count > 0)
            {
                var nullIndex = -1;
                for (var i = 0; i < items.Count; i++)
                {
                    if (items[i].Key == NullName)
                    {
                        nullIndex = i;
                        break;
                    }
                }

                writer.Write(nullIndex);
                foreach (var (name, _) in items)
                {
                    if (name != NullName)
                    {
                        writer.Write(name);
                    }
                }

                var end = 0;
                foreach (var (_, value) in items)
                {
                    end = checked(end + value.Length);
                    writer.Write(end);
                }

                foreach (var (_, value) in items)
                {
                    writer.Write(value);
                }
            }
        }

        return stream.ToArray();
    }

    /// <summary>
    /// The stored collection with the changes applied: removed names go (case-insensitively), changed ones are
    /// replaced where they stood, new ones are appended; every other item keeps its bytes.
    /// </summary>
    public static List<KeyValuePair<string, byte[]>> Apply(List<KeyValuePair<string, byte[]>> items, SessionChanges changes)
    {
        var result = new List<KeyValuePair<string, byte[]>>(items.Count + changes.Set.Count);
        var removed = new HashSet<string>(changes.Removed, StringComparer.OrdinalIgnoreCase);
        foreach (var item in items)
        {
            if (!removed.Contains(item.Key))
            {
                result.Add(item);
            }
        }

        foreach (var (name, value) in changes.Set)
        {
            var at = result.FindIndex(i => string.Equals(i.Key, name, StringComparison.OrdinalIgnoreCase));
            if (at >= 0)
            {
                result[at] = new(name, value);
            }
            else
            {
                result.Add(new(name, value));
            }
        }

        return result;
    }
}
