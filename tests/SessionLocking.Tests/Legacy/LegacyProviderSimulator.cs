using System.Globalization;
using System.Text;
using System.Text.Json;
using SessionLocking.TestServer;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// A classic ASP.NET server running Microsoft.Web.RedisSessionStateProvider, written for the tests from the provider's
/// protocol (not from the store under test): its keys, its lock (SETNX of <c>DateTime.Now.Ticks</c> in its own time
/// zone, EXPIRE of the execution timeout), the classic module's 500 ms poll and its force-release of a lock whose age
/// reached the execution timeout, release only by the lock's own value, the sliding expiry, and the data formats: V5 a
/// <c>SessionStateItemCollection</c> (its own codec, below), V4 a hash with one JSON value per item (the JSON
/// <c>redisSerializerType</c> the docs recommend). As in the provider's sources (3.0.2, 4.0.1, 5.0.0, 5.0.4), the
/// write-back is one script that returns early, writing nothing, when the lock does not hold the request's value, and
/// otherwise writes and deletes the lock. <c>CreateUninitializedItem</c> stores the provider's <c>SessionStateActions</c>
/// item, which marks the session as new for the next request, and every write-back removes it.
/// </summary>
internal sealed class LegacyProviderSimulator(IConnectionMultiplexer redis, string application, RedisSessionStateProviderFormat format, TimeZoneInfo timeZone, TimeSpan executionTimeout)
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);
    private readonly IDatabase _db = redis.GetDatabase();

    public bool V5 => format == RedisSessionStateProviderFormat.V5;

    /// <summary>Every force-release this server did, with the age it saw.</summary>
    public List<TimeSpan> ForceReleases { get; } = [];

    /// <summary>This server's clock: its local time zone's ticks.</summary>
    public long LocalTicks() => TimeZoneInfo.ConvertTimeFromUtc(DateTime.UtcNow, timeZone).Ticks;

    public RedisKey[] Keys(string id)
    {
        var tag = "{" + application + "_" + id + "}";
        return V5
            ? [tag + "_WriteLock", tag + "_SessionStateItemCollection", tag + "_SessionTimeout"]
            : [tag + "_Write_Lock", tag + "_Data", tag + "_Internal"];
    }

    private string TimeoutRead => V5 ? "redis.call('GET', KEYS[3])" : "redis.call('HGET', KEYS[3], 'SessionTimeout')";

    private string DataRead => V5 ? "redis.call('GET', KEYS[2])" : "redis.call('HGETALL', KEYS[2])";

    private string Slide => $"""
        local t = {TimeoutRead}
        if t then
          redis.call('EXPIRE', KEYS[2], t)
          redis.call('EXPIRE', KEYS[3], t)
        end
        """;

    /// <summary>GetItemExclusive with the module's wait: polls every 500 ms, force-releases a lock older than the execution timeout.</summary>
    public Task<LegacyRequest> BeginExclusiveAsync(string id, CancellationToken cancellationToken = default) => BeginAsync(id, exclusive: true, cancellationToken);

    /// <summary>GetItem with the module's wait (a read-only request gets no data while a write lock exists).</summary>
    public Task<LegacyRequest> BeginReadOnlyAsync(string id, CancellationToken cancellationToken = default) => BeginAsync(id, exclusive: false, cancellationToken);

    private async Task<LegacyRequest> BeginAsync(string id, bool exclusive, CancellationToken cancellationToken)
    {
        var lockScript = $"""
            local value = ARGV[1]
            local taken = 0
            if ARGV[3] == '1' then
              taken = redis.call('SETNX', KEYS[1], value)
              if taken == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
            end
            local holder = redis.call('GET', KEYS[1])
            {Slide}
            if holder and taken == 0 then return {"{"}0, holder{"}"} end
            return {"{"}1, {DataRead} or false, {TimeoutRead} or '-1'{"}"}
            """;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var value = LocalTicks().ToString(CultureInfo.InvariantCulture);
            var reply = (RedisResult[])(await _db.ScriptEvaluateAsync(lockScript, Keys(id), [value, (long)Math.Ceiling(executionTimeout.TotalSeconds), exclusive ? "1" : "0"]))!;
            if ((int)reply[0] == 1)
            {
                var started = TestEndpoints.Now();
                return new LegacyRequest(this, id, exclusive ? value : null, ParseData(reply[1]), (int)reply[2], started);
            }

            var holder = (string)reply[1]!;
            var age = long.TryParse(holder, out var ticks) ? TimeSpan.FromTicks(LocalTicks() - ticks) : TimeSpan.FromTicks(LocalTicks());
            if (age >= executionTimeout)
            {
                lock (ForceReleases)
                {
                    ForceReleases.Add(age);
                }

                await ReleaseAsync(id, holder);
                continue;
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <summary>The provider's own item: a session that holds it is new to the classic module (it runs Session_Start).</summary>
    public const string SessionStateActions = "SessionStateActions";

    /// <summary>
    /// CreateUninitializedItem: what a classic request that found no stored session leaves for its id, unfenced and
    /// without a lock (the provider's <c>Set</c>): a session holding only <c>SessionStateActions = InitializeItem</c>.
    /// </summary>
    public async Task CreateUninitializedItemAsync(string id, int timeoutMinutes = 20)
    {
        var seconds = timeoutMinutes * 60;
        var keys = Keys(id);
        if (V5)
        {
            await _db.ScriptEvaluateAsync("""
                redis.call('SET', KEYS[2], ARGV[1])
                redis.call('EXPIRE', KEYS[2], ARGV[2])
                redis.call('SET', KEYS[3], ARGV[2])
                redis.call('EXPIRE', KEYS[3], ARGV[2])
                return 1
                """, keys, [LegacyCollection.Write([new(SessionStateActions, LegacyCollection.InitializeItem)]), seconds]);
            return;
        }

        await _db.ScriptEvaluateAsync("""
            redis.call('HMSET', KEYS[2], ARGV[1], ARGV[2])
            redis.call('EXPIRE', KEYS[2], ARGV[3])
            redis.call('HMSET', KEYS[3], 'SessionTimeout', ARGV[3])
            redis.call('EXPIRE', KEYS[3], ARGV[3])
            return 1
            """, keys, [SessionStateActions, LegacyJson.Serialize(1), seconds]);
    }

    /// <summary>ReleaseItemExclusive: deletes the lock only while it holds <paramref name="value"/>.</summary>
    public async Task<bool> ReleaseAsync(string id, string value) =>
        (long)await _db.ScriptEvaluateAsync($"""
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
            redis.call('DEL', KEYS[1])
            {Slide}
            return 1
            """, Keys(id), [value]) == 1;

    /// <summary>
    /// SetAndReleaseItemExclusive: removes the provider's <c>SessionStateActions</c> item, then writes and releases only
    /// while the lock holds this request's value (one script, as in the provider).
    /// </summary>
    public async Task<bool> WriteAndReleaseAsync(LegacyRequest request, int timeoutMinutes = 20)
    {
        var seconds = timeoutMinutes * 60;
        if (request.Items.Any(i => string.Equals(i.Key, SessionStateActions, StringComparison.OrdinalIgnoreCase)))
        {
            request.Remove(SessionStateActions);
        }

        if (V5)
        {
            return (long)await _db.ScriptEvaluateAsync("""
                if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
                redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
                redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[2])
                redis.call('DEL', KEYS[1])
                return 1
                """, Keys(request.Id), [request.LockValue, seconds, LegacyCollection.Write(request.Items)]) == 1;
        }

        var removed = request.Removed.ToArray();
        var set = request.Items.Where(i => request.Changed.Contains(i.Key)).ToArray();
        var args = new List<RedisValue> { request.LockValue, seconds, removed.Length };
        args.AddRange(removed.Select(r => (RedisValue)r));
        foreach (var (name, value) in set)
        {
            args.Add(name);
            args.Add(value is OpaqueObject binary ? binary.Payload : LegacyJson.Serialize(value)); // the default BinaryFormatter serializer for objects
        }

        return (long)await _db.ScriptEvaluateAsync("""
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
            local n = tonumber(ARGV[3])
            if n > 0 then redis.call('HDEL', KEYS[2], unpack(ARGV, 4, 3 + n)) end
            if #ARGV > 3 + n then redis.call('HMSET', KEYS[2], unpack(ARGV, 4 + n, #ARGV)) end
            redis.call('EXPIRE', KEYS[2], ARGV[2])
            redis.call('HMSET', KEYS[3], 'SessionTimeout', ARGV[2])
            redis.call('EXPIRE', KEYS[3], ARGV[2])
            redis.call('DEL', KEYS[1])
            return 1
            """, Keys(request.Id), [.. args]) == 1;
    }

    /// <summary>The TTL of the data and timeout keys (seconds).</summary>
    public async Task<(long Data, long Timeout)> TtlsAsync(string id)
    {
        var keys = Keys(id);
        return ((long)(await _db.KeyTimeToLiveAsync(keys[1]))!.Value.TotalSeconds, (long)(await _db.KeyTimeToLiveAsync(keys[2]))!.Value.TotalSeconds);
    }

    public Task<RedisValue> LockValueAsync(string id) => _db.StringGetAsync(Keys(id)[0]);

    private List<KeyValuePair<string, object?>>? ParseData(RedisResult data)
    {
        if (data.IsNull)
        {
            return null;
        }

        if (V5)
        {
            return LegacyCollection.Read((byte[])data!);
        }

        var pairs = (RedisResult[])data!;
        if (pairs.Length == 0)
        {
            return null;
        }

        var items = new List<KeyValuePair<string, object?>>();
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            var value = (byte[])pairs[i + 1]!;
            items.Add(new((string)pairs[i]!, value is [0, 1, 0, 0, 0, ..] ? new OpaqueObject(value) : LegacyJson.Deserialize(value)));
        }

        return items;
    }
}

/// <summary>One classic request that acquired its session (or a read-only one that loaded it).</summary>
internal sealed class LegacyRequest(LegacyProviderSimulator server, string id, string? lockValue, List<KeyValuePair<string, object?>>? items, int timeoutSeconds, double started)
{
    public string Id => id;

    public string LockValue => lockValue ?? throw new InvalidOperationException("a read-only request holds no lock");

    public bool IsNew => items is null;

    /// <summary>
    /// What the classic module reports as <c>IsNewSession</c>: no stored session, or one still carrying the provider's
    /// <c>SessionStateActions</c> item (GetItem's actions = InitializeItem).
    /// </summary>
    public bool IsNewSession => IsNew || Items.Any(i => string.Equals(i.Key, LegacyProviderSimulator.SessionStateActions, StringComparison.OrdinalIgnoreCase) && i.Value is not null);

    public int TimeoutSeconds => timeoutSeconds;

    /// <summary>When the request got its session, on <see cref="TestEndpoints.Now"/>'s clock.</summary>
    public double Started => started;

    public List<KeyValuePair<string, object?>> Items { get; } = items ?? [];

    public HashSet<string> Changed { get; } = new(StringComparer.OrdinalIgnoreCase);

    public HashSet<string> Removed { get; } = new(StringComparer.OrdinalIgnoreCase);

    public object? this[string name]
    {
        get => Items.FirstOrDefault(i => string.Equals(i.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
        set
        {
            var at = Items.FindIndex(i => string.Equals(i.Key, name, StringComparison.OrdinalIgnoreCase));
            if (at >= 0)
            {
                Items[at] = new(Items[at].Key, value);
            }
            else
            {
                Items.Add(new(name, value));
            }

            Changed.Add(name);
            Removed.Remove(name);
        }
    }

    public void Remove(string name)
    {
        Items.RemoveAll(i => string.Equals(i.Key, name, StringComparison.OrdinalIgnoreCase));
        Changed.Remove(name);
        Removed.Add(name);
    }

    public Task<bool> EndAsync(bool write = true) => write ? server.WriteAndReleaseAsync(this) : server.ReleaseAsync(id, LockValue);
}

/// <summary>An opaque BinaryFormatter payload as the classic side stores it (type byte 20 and bytes nobody here reads).</summary>
internal sealed record OpaqueObject(byte[] Payload);

/// <summary>The test's own codec of a classic SessionStateItemCollection and its AltSerialization values.</summary>
internal static class LegacyCollection
{
    /// <summary>
    /// <c>SessionStateActions.InitializeItem</c> as the classic side stores it in a V5 collection: an enum is not an
    /// AltSerialization primitive, so it is an Object item (type 20) holding the BinaryFormatter (MS-NRBF) record of the
    /// boxed System.Web enum, whose one member <c>value__</c> is the Int32 1.
    /// </summary>
    public static readonly OpaqueObject InitializeItem = new(EnumRecord(1));

    public static List<KeyValuePair<string, object?>> Read(byte[] data)
    {
        var reader = new BinaryReader(new MemoryStream(data));
        var count = reader.ReadInt32();
        var items = new List<KeyValuePair<string, object?>>();
        if (count == 0)
        {
            return items;
        }

        Assert.Equal(-1, reader.ReadInt32());
        var names = Enumerable.Range(0, count).Select(_ => reader.ReadString()).ToArray();
        var ends = Enumerable.Range(0, count).Select(_ => reader.ReadInt32()).ToArray();
        var values = reader.ReadBytes(ends[^1]);
        Assert.Equal(data.Length, reader.BaseStream.Position);
        var start = 0;
        for (var i = 0; i < count; i++)
        {
            items.Add(new(names[i], ReadValue(values[start..ends[i]])));
            start = ends[i];
        }

        return items;
    }

    public static byte[] Write(IReadOnlyList<KeyValuePair<string, object?>> items)
    {
        var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        writer.Write(items.Count);
        if (items.Count == 0)
        {
            return stream.ToArray();
        }

        writer.Write(-1);
        foreach (var (name, _) in items)
        {
            writer.Write(name);
        }

        var values = items.Select(i => WriteValue(i.Value)).ToArray();
        var end = 0;
        foreach (var value in values)
        {
            end += value.Length;
            writer.Write(end);
        }

        foreach (var value in values)
        {
            writer.Write(value);
        }

        return stream.ToArray();
    }

    public static byte[] WriteValue(object? value)
    {
        var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        switch (value)
        {
            case null: w.Write((byte)21); break;
            case string v: w.Write((byte)1); w.Write(v); break;
            case int v: w.Write((byte)2); w.Write(v); break;
            case bool v: w.Write((byte)3); w.Write(v); break;
            case DateTime v: w.Write((byte)4); w.Write(v.Ticks); break;
            case decimal v: w.Write((byte)5); foreach (var b in decimal.GetBits(v)) { w.Write(b); } break;
            case byte v: w.Write((byte)6); w.Write(v); break;
            case char v: w.Write((byte)7); w.Write(v); break;
            case float v: w.Write((byte)8); w.Write(v); break;
            case double v: w.Write((byte)9); w.Write(v); break;
            case sbyte v: w.Write((byte)10); w.Write(v); break;
            case short v: w.Write((byte)11); w.Write(v); break;
            case long v: w.Write((byte)12); w.Write(v); break;
            case ushort v: w.Write((byte)13); w.Write(v); break;
            case uint v: w.Write((byte)14); w.Write(v); break;
            case ulong v: w.Write((byte)15); w.Write(v); break;
            case TimeSpan v: w.Write((byte)16); w.Write(v.Ticks); break;
            case Guid v: w.Write((byte)17); w.Write(v.ToByteArray()); break;
            case OpaqueObject v: w.Write((byte)20); w.Write(v.Payload); break;
            default: throw new ArgumentException("the simulator does not write " + value.GetType());
        }

        return stream.ToArray();
    }

    /// <summary>A boxed <c>SessionStateActions</c> of <paramref name="value"/> as BinaryFormatter writes it.</summary>
    public static byte[] EnumRecord(int value)
    {
        var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write((byte)0); // SerializationHeaderRecord: root 1, header -1, version 1.0
        w.Write(1);
        w.Write(-1);
        w.Write(1);
        w.Write(0);
        w.Write((byte)12); // BinaryLibrary 2
        w.Write(2);
        w.Write("System.Web, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a");
        w.Write((byte)5); // ClassWithMembersAndTypes: object 1, one member value__ of the primitive Int32, in library 2
        w.Write(1);
        w.Write("System.Web.SessionState.SessionStateActions");
        w.Write(1);
        w.Write("value__");
        w.Write((byte)0);
        w.Write((byte)8);
        w.Write(2);
        w.Write(value); // value__
        w.Write((byte)11); // MessageEnd
        return stream.ToArray();
    }

    public static object? ReadValue(byte[] value)
    {
        var r = new BinaryReader(new MemoryStream(value));
        object? result = r.ReadByte() switch
        {
            1 => r.ReadString(),
            2 => r.ReadInt32(),
            3 => r.ReadBoolean(),
            4 => new DateTime(r.ReadInt64()),
            5 => new decimal([r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32()]),
            6 => r.ReadByte(),
            7 => r.ReadChar(),
            8 => r.ReadSingle(),
            9 => r.ReadDouble(),
            10 => r.ReadSByte(),
            11 => r.ReadInt16(),
            12 => r.ReadInt64(),
            13 => r.ReadUInt16(),
            14 => r.ReadUInt32(),
            15 => r.ReadUInt64(),
            16 => new TimeSpan(r.ReadInt64()),
            17 => new Guid(r.ReadBytes(16)),
            20 => new OpaqueObject(r.ReadBytes(value.Length - 1)),
            21 => null,
            var id => throw new InvalidDataException("type id " + id),
        };
        Assert.Equal(value.Length, r.BaseStream.Position);
        return result;
    }
}

/// <summary>The JSON serializer a V4 classic application configures as its redisSerializerType (UTF-8 JSON, primitives).</summary>
internal static class LegacyJson
{
    public static byte[] Serialize(object? value) => JsonSerializer.SerializeToUtf8Bytes(value);

    public static object? Deserialize(byte[] data)
    {
        using var document = JsonDocument.Parse(data);
        var root = document.RootElement;
        return root.ValueKind switch
        {
            JsonValueKind.String => root.GetString(),
            JsonValueKind.Number => root.TryGetInt32(out var i) ? (object)i : root.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => Encoding.UTF8.GetString(data),
        };
    }
}
