namespace SessionLocking.Redis;

/// <summary>
/// The last version of each session this server loaded or wrote (docs/redis-protocol.md, "Cached loads"), bounded by
/// bytes, the least recently used dropped first. A load sends the version it holds, and Redis answers without items
/// while that is still the session's version. Entries are immutable: a request gets the cached item map (read-only)
/// and decodes its own objects from the bytes, which no one changes (<see cref="SessionData.Items"/>).
/// </summary>
internal sealed class RedisSessionCache
{
    /// <summary>What an entry costs beyond its items: the entry, its list node and dictionary slot, the version.</summary>
    private const long EntryOverhead = 160;

    /// <summary>What an item costs beyond its value's bytes: the name (UTF-16), the array header, the slot.</summary>
    private const long ItemOverhead = 64;

    private readonly Dictionary<string, LinkedListNode<RedisCachedSession>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<RedisCachedSession> _recent = new();
    private readonly Lock _gate = new();
    private long _bytes;

    public RedisSessionCache(long limit) => Limit = limit;

    /// <summary>The most bytes the entries may take together.</summary>
    public long Limit { get; }

    /// <summary>What the entries take now, in bytes (estimated as <see cref="Size"/> counts).</summary>
    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    /// <summary>How many sessions are kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _map.Count;
            }
        }
    }

    /// <summary>The entry of a session, made the most recently used; null when none is kept.</summary>
    public RedisCachedSession? Get(string sessionId)
    {
        lock (_gate)
        {
            if (!_map.TryGetValue(sessionId, out var node))
            {
                return null;
            }

            _recent.Remove(node);
            _recent.AddFirst(node);
            return node.Value;
        }
    }

    /// <summary>Keeps <paramref name="entry"/> as the session's (replacing what was kept), then drops the least recently used over the limit.</summary>
    public void Put(string sessionId, RedisCachedSession entry)
    {
        if (entry.Size > Limit)
        {
            Remove(sessionId);
            return;
        }

        lock (_gate)
        {
            if (_map.TryGetValue(sessionId, out var node))
            {
                _bytes -= node.Value.Size;
                _recent.Remove(node);
                node.Value = entry;
            }
            else
            {
                node = new LinkedListNode<RedisCachedSession>(entry);
                _map.Add(sessionId, node);
            }

            _recent.AddFirst(node);
            _bytes += entry.Size;
            while (_bytes > Limit && _recent.Last is { } last)
            {
                _recent.RemoveLast();
                _map.Remove(last.Value.SessionId);
                _bytes -= last.Value.Size;
            }
        }
    }

    /// <summary>Forgets a session.</summary>
    public void Remove(string sessionId)
    {
        lock (_gate)
        {
            if (_map.Remove(sessionId, out var node))
            {
                _recent.Remove(node);
                _bytes -= node.Value.Size;
            }
        }
    }

    /// <summary>The bytes an entry of these items is counted as.</summary>
    public static long Size(IReadOnlyDictionary<string, byte[]> items)
    {
        var size = EntryOverhead;
        foreach (var (name, value) in items)
        {
            size += ItemOverhead + (2L * name.Length) + value.Length;
        }

        return size;
    }
}
