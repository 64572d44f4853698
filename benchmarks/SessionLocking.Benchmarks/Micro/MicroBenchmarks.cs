using System.Text.Json;
using BenchmarkDotNet.Attributes;
using SessionLocking.Serialization;

namespace SessionLocking.Benchmarks.Micro;

/// <summary>Creating a session id (15 random bytes as 24 characters of a-z0-5).</summary>
[MemoryDiagnoser]
public class SessionIdCreation
{
    [Benchmark(Baseline = true, Description = "Guid.NewGuid().ToString()")]
    public string GuidToString() => Guid.NewGuid().ToString();

    [Benchmark(Description = "SessionIds.Create()")]
    public string Create() => SessionIds.Create();
}

/// <summary>Checking an incoming id before it is used anywhere.</summary>
[MemoryDiagnoser]
public class SessionIdValidation
{
    private readonly string _guid = Guid.NewGuid().ToString();
    private readonly string _id = SessionIds.Create();

    [Benchmark(Baseline = true, Description = "Guid.TryParse(guid)")]
    public bool GuidTryParse() => Guid.TryParse(_guid, out _);

    [Benchmark(Description = "SessionIds.IsValid(id)")]
    public bool IsValid() => SessionIds.IsValid(_id);
}

/// <summary>
/// Change tracking at the end of a request on a typical session (LockedSession.GetChanges), against
/// serializing the whole session with System.Text.Json (what a provider that rewrites the session does).
/// </summary>
[MemoryDiagnoser]
public class ChangeTracking
{
    private LockedSessionOptions _options = null!;
    private SessionValueCodec _codec = null!;
    private SessionData _stored = null!;
    private Dictionary<string, object> _whole = null!;
    private LockedSession _readOnly = null!;
    private LockedSession _oneChange = null!;
    private LockedSession _cartChanged = null!;

    [GlobalSetup]
    public void Setup()
    {
        _options = TypicalSession.Options();
        _codec = TypicalSession.Codec(_options);
        _stored = TypicalSession.Stored(_codec);
        _whole = TypicalSession.Values().ToDictionary(v => v.Name, v => v.Value);

        // The cart was read through the object API: it must be serialized again and compared.
        _readOnly = Load();
        _ = _readOnly["cart"];

        _oneChange = Load();
        _ = _oneChange["cart"];
        _oneChange["visits"] = 43;

        _cartChanged = Load();
        ((Cart)_cartChanged["cart"]!).Lines[0].Quantity++;
    }

    private LockedSession Load() => new(SessionIds.Create(), _stored, isReadOnly: false, SessionStateMode.InProc, _codec, _options, static () => false);

    [Benchmark(Baseline = true, Description = "JsonSerializer: whole session")]
    public byte[] WholeSessionJson() => JsonSerializer.SerializeToUtf8Bytes(_whole);

    [Benchmark(Description = "GetChanges: cart read, nothing changed")]
    public SessionChanges? NothingChanged() => _readOnly.GetChanges();

    [Benchmark(Description = "GetChanges: cart read, one int set")]
    public SessionChanges? OneIntChanged() => _oneChange.GetChanges();

    [Benchmark(Description = "GetChanges: a line inside the cart changed")]
    public SessionChanges? CartChanged() => _cartChanged.GetChanges();

    [Benchmark(Description = "whole request: load, read cart, set int, GetChanges")]
    public SessionChanges? Request()
    {
        var session = Load();
        _ = session["cart"];
        session["visits"] = 43;
        return session.GetChanges();
    }
}

/// <summary>Serializing the values of a typical session through SessionValueCodec, against raw System.Text.Json.</summary>
[MemoryDiagnoser]
public class Serialization
{
    private (string Name, object Value, Type Type)[] _values = null!;
    private SessionValueCodec _codec = null!;
    private JsonSerializerOptions _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = TypicalSession.Options();
        _codec = TypicalSession.Codec(options);
        _json = options.JsonSerializerOptions;
        _values = TypicalSession.Values();
    }

    [Benchmark(Baseline = true, Description = "JsonSerializer.SerializeToUtf8Bytes, each value")]
    public int Json()
    {
        var total = 0;
        foreach (var (_, value, type) in _values)
        {
            total += JsonSerializer.SerializeToUtf8Bytes(value, type, _json).Length;
        }

        return total;
    }

    [Benchmark(Description = "SessionValueCodec.EncodeTyped, each value")]
    public int Codec()
    {
        var total = 0;
        foreach (var (name, value, type) in _values)
        {
            total += _codec.EncodeTyped(name, value, type).Length;
        }

        return total;
    }
}

/// <summary>Reading the values of a typical session back through SessionValueCodec, against raw System.Text.Json.</summary>
[MemoryDiagnoser]
public class Deserialization
{
    private (string Name, Type Type, byte[] Json, byte[] Stored)[] _values = null!;
    private SessionValueCodec _codec = null!;
    private JsonSerializerOptions _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = TypicalSession.Options();
        _codec = TypicalSession.Codec(options);
        _json = options.JsonSerializerOptions;
        _values = TypicalSession.Values()
            .Select(v => (v.Name, v.Type, JsonSerializer.SerializeToUtf8Bytes(v.Value, v.Type, _json), _codec.EncodeTyped(v.Name, v.Value, v.Type)))
            .ToArray();
    }

    [Benchmark(Baseline = true, Description = "JsonSerializer.Deserialize, each value")]
    public int Json()
    {
        var n = 0;
        foreach (var (_, type, json, _) in _values)
        {
            n += JsonSerializer.Deserialize(json, type, _json) is null ? 0 : 1;
        }

        return n;
    }

    [Benchmark(Description = "SessionValueCodec.DecodeObject, each value")]
    public int Codec()
    {
        var n = 0;
        foreach (var (name, _, _, stored) in _values)
        {
            n += _codec.DecodeObject(name, stored) is null ? 0 : 1;
        }

        return n;
    }
}

/// <summary>
/// Change tracking on a large session: 1,000 small string items (a classic pattern: many flags and lookups kept in
/// session), one of them changed. Baseline: serializing the whole session with System.Text.Json.
/// </summary>
[MemoryDiagnoser]
public class ChangeTrackingLargeSession
{
    private const int Items = 1_000;
    private LockedSession _session = null!;
    private Dictionary<string, object> _whole = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = TypicalSession.Options();
        var codec = TypicalSession.Codec(options);
        var items = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        _whole = new Dictionary<string, object>();
        for (var i = 0; i < Items; i++)
        {
            var value = "value of item " + i;
            items["item" + i] = codec.EncodeTyped("item" + i, value, typeof(string));
            _whole["item" + i] = value;
        }

        _session = new LockedSession(SessionIds.Create(), new SessionData(items, TimeSpan.FromMinutes(20)), isReadOnly: false, SessionStateMode.InProc, codec, options, static () => false);
        _session["item500"] = "changed";
    }

    [Benchmark(Baseline = true, Description = "JsonSerializer: whole session (1,000 items)")]
    public byte[] WholeSessionJson() => JsonSerializer.SerializeToUtf8Bytes(_whole);

    [Benchmark(Description = "GetChanges: 1,000 items, one changed")]
    public SessionChanges? OneChanged() => _session.GetChanges();
}
