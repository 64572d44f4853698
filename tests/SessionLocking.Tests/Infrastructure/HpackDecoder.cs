using System.Text;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// Decodes HPACK header blocks (RFC 7541) for <see cref="RawHttp2"/>: the static and dynamic tables and literals.
/// Huffman-coded strings are refused: Kestrel's encoder never uses them.
/// </summary>
internal sealed class HpackDecoder
{
    private static readonly (string Name, string Value)[] StaticTable =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ];

    private readonly List<(string Name, string Value)> _dynamic = new();
    private int _maxSize = 4096;

    public List<(string Name, string Value)> Decode(ReadOnlySpan<byte> block)
    {
        var headers = new List<(string Name, string Value)>();
        var position = 0;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0x80) != 0)
            {
                headers.Add(Entry(ReadInteger(block, ref position, 7)));
            }
            else if ((first & 0xC0) == 0x40)
            {
                var header = ReadLiteral(block, ref position, 6);
                headers.Add(header);
                Insert(header);
            }
            else if ((first & 0xE0) == 0x20)
            {
                _maxSize = ReadInteger(block, ref position, 5);
                Evict();
            }
            else
            {
                // Without indexing (0000) or never indexed (0001): both have a 4-bit index prefix.
                headers.Add(ReadLiteral(block, ref position, 4));
            }
        }

        return headers;
    }

    private (string Name, string Value) ReadLiteral(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var index = ReadInteger(block, ref position, prefixBits);
        var name = index == 0 ? ReadString(block, ref position) : Entry(index).Name;
        return (name, ReadString(block, ref position));
    }

    private (string Name, string Value) Entry(int index) =>
        index <= StaticTable.Length ? StaticTable[index - 1] : _dynamic[index - StaticTable.Length - 1];

    private void Insert((string Name, string Value) header)
    {
        _dynamic.Insert(0, header);
        Evict();
    }

    private void Evict()
    {
        while (_dynamic.Count > 0 && _dynamic.Sum(e => e.Name.Length + e.Value.Length + 32) > _maxSize)
        {
            _dynamic.RemoveAt(_dynamic.Count - 1);
        }
    }

    private static string ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        if ((block[position] & 0x80) != 0)
        {
            throw new NotSupportedException("A Huffman-coded header string; this test decoder reads literals only.");
        }

        var length = ReadInteger(block, ref position, 7);
        var text = Encoding.Latin1.GetString(block.Slice(position, length));
        position += length;
        return text;
    }

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var mask = (1 << prefixBits) - 1;
        var value = block[position++] & mask;
        if (value < mask)
        {
            return value;
        }

        var shift = 0;
        byte next;
        do
        {
            next = block[position++];
            value += (next & 0x7F) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);
        return value;
    }
}
