using System.Collections;
using System.Collections.ObjectModel;
using Microsoft.AspNetCore.Http;
using SessionLocking.Serialization;

namespace SessionLocking;

/// <summary>
/// One request's view of a session: the classic API and ASP.NET Core's <see cref="ISession"/> over the same
/// items. Items keep their stored bytes; objects read through the object API are kept too, so that at the
/// end of the request a change inside a mutable object is found by serializing it again and comparing the bytes
/// with the object's own baseline (<see cref="SessionItem"/>). Reading alone never writes.
/// </summary>
internal sealed partial class LockedSession : IHttpSessionState, ISession
{
    private readonly ISessionItemFormat _format;
    private readonly LockedSessionOptions _options;
    private readonly Dictionary<string, byte[]> _loaded;
    private readonly Dictionary<string, string> _loadedNames;
    private readonly Dictionary<string, SessionItem> _items;
    private readonly List<string> _order;
    private readonly ReadOnlyCollection<string> _keys;
    private readonly TimeSpan _loadedTimeout;
    private readonly Func<bool> _responseHasStarted;
    private TimeSpan _timeout;
    private bool _established;
    private SortedSet<string>? _readOnlyChanges;
    private bool _releasedEarly;

    public LockedSession(
        string sessionId,
        SessionData? data,
        bool isReadOnly,
        SessionStateMode mode,
        ISessionItemFormat format,
        LockedSessionOptions options,
        Func<bool> responseHasStarted)
    {
        OriginalId = SessionID = sessionId;
        IsNewSession = data is null;
        IsReadOnly = isReadOnly;
        Mode = mode;
        _format = format;
        _options = options;
        _responseHasStarted = responseHasStarted;
        _loadedTimeout = _timeout = data?.Timeout ?? options.Timeout;
        _loaded = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        _loadedNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        _items = new Dictionary<string, SessionItem>(StringComparer.OrdinalIgnoreCase);
        _order = new List<string>();
        _keys = _order.AsReadOnly();
        if (data is not null)
        {
            foreach (var (name, stored) in data.Items)
            {
                if (_loaded.TryAdd(name, stored))
                {
                    _loadedNames[name] = name;
                    _items[name] = new SessionItem(stored);
                    _order.Add(name);
                }
            }
        }
    }

    /// <summary>The id the request started with (the lock is held on it).</summary>
    public string OriginalId { get; }

    /// <inheritdoc />
    public string SessionID { get; private set; }

    /// <inheritdoc />
    public bool IsNewSession { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public bool IsAbandoned { get; private set; }

    /// <inheritdoc />
    public SessionStateMode Mode { get; }

    /// <inheritdoc />
    public bool IsCookieless => false;

    /// <inheritdoc />
    public HttpCookieMode CookieMode => HttpCookieMode.UseCookies;

    /// <summary>True when <see cref="RegenerateId"/> was called.</summary>
    public bool IsIdRegenerated => !string.Equals(SessionID, OriginalId, StringComparison.Ordinal);

    /// <summary>True when a read-only request tried to change the session (the change is not saved).</summary>
    public bool ReadOnlyChangeAttempted => _readOnlyChanges is not null;

    /// <summary>What a read-only request tried to change: item names, <c>Timeout</c>, <c>Clear()</c>, <c>Abandon()</c>.</summary>
    public IReadOnlyCollection<string> ReadOnlyChanges => (IReadOnlyCollection<string>?)_readOnlyChanges ?? [];

    /// <summary>The endpoint of the request (its display name), for messages that must say where to look.</summary>
    public string? EndpointName { get; init; }

    /// <summary>The items of an ended session, as <c>OnSessionEnd</c> sees them: read-only, and every change throws.</summary>
    public bool Ended { get; init; }

    /// <summary>Called by <see cref="RegenerateId"/> before the id changes (the middleware holds the response then).</summary>
    public Action? IdRegenerating { get; set; }

    /// <summary>True once the response carries (or will carry) this session's cookie.</summary>
    public bool CookieIssued { get; set; }

    /// <summary>Whether a new session will be stored at the end of the request (classic: written, started or timeout changed).</summary>
    public bool WillBeStored => !IsAbandoned && (!IsNewSession || _established || _timeout != _loadedTimeout);

    /// <inheritdoc />
    public int Timeout
    {
        get => (int)Math.Ceiling(_timeout.TotalMinutes);
        set
        {
            if (value <= 0 || TimeSpan.FromMinutes(value) > LockedSessionDefaults.MaxTimeout)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The session timeout must be greater than 0 and at most 525600 minutes (one year).");
            }

            OnChanging("Timeout");
            _timeout = TimeSpan.FromMinutes(value);
        }
    }

    /// <inheritdoc />
    public int Count => _order.Count;

    /// <inheritdoc />
    public IReadOnlyList<string> Keys => _keys;

    /// <inheritdoc />
    public object? this[string name]
    {
        get => GetObject(name);
        set => SetObject(name, value);
    }

    /// <inheritdoc />
    public object? this[int index]
    {
        get => GetObject(NameAt(index));
        set => SetObject(NameAt(index), value);
    }

    /// <inheritdoc />
    public void Add(string name, object? value) => SetObject(name, value);

    /// <inheritdoc />
    public void Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        OnChanging(name);
        if (_items.Remove(name))
        {
            _order.RemoveAt(IndexOf(name));
        }
    }

    /// <inheritdoc />
    public void RemoveAt(int index) => Remove(NameAt(index));

    /// <inheritdoc />
    public void Clear()
    {
        OnChanging("Clear()");
        _items.Clear();
        _order.Clear();
    }

    /// <inheritdoc />
    public void RemoveAll() => Clear();

    /// <inheritdoc />
    public void Abandon()
    {
        ThrowIfReleasedEarly("Abandon()");
        if (IsReadOnly)
        {
            NoteReadOnlyChange("Abandon()");
        }

        IsAbandoned = true;
    }

    /// <inheritdoc />
    public T? Get<T>(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_items.TryGetValue(name, out var item))
        {
            return default;
        }

        if (item.HasValue)
        {
            return item.Value switch
            {
                null => default,
                T value => value,
                _ => throw new SessionSerializationException(name, TypeNames.CSharp(typeof(T)),
                    $"The session item '{name}' holds a '{TypeNames.CSharp(item.Value.GetType())}', which is not a '{TypeNames.CSharp(typeof(T))}'."),
            };
        }

        var decoded = (T?)_format.Decode(name, item.Stored, typeof(T));

        // Typed items keep the instance, as classic did, so changes made inside it are found and saved.
        // Raw bytes written through ISession stay values: each read gets its own copy.
        if (!_format.IsBytes(item.Stored) && !SessionValueCodec.IsImmutable(typeof(T)))
        {
            item.Decoded(name, decoded, typeof(T), _format);
        }

        return decoded;
    }

    /// <inheritdoc />
    public void Set<T>(string name, T value)
    {
        ArgumentNullException.ThrowIfNull(name);
        var type = typeof(T) == typeof(object) ? value?.GetType() ?? typeof(object) : typeof(T);
        var stored = Encode(name, value, type);
        OnChanging(name);
        Put(name, stored, value, type);
    }

    /// <inheritdoc />
    public void RegenerateId()
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("RegenerateId needs a request that may write the session (SessionStateBehavior.Required); this one is read-only.");
        }

        if (IsAbandoned)
        {
            throw new InvalidOperationException("RegenerateId cannot be called on an abandoned session.");
        }

        ThrowIfReleasedEarly("RegenerateId()");

        if (_responseHasStarted())
        {
            throw new InvalidOperationException("RegenerateId must be called before the response starts, because the new id is sent in a cookie.");
        }

        IdRegenerating?.Invoke();
        SessionID = SessionIds.Create();
        _established = true;
    }

    /// <summary>True once the request saved and released the session early (<c>ReleaseSessionAsync</c>).</summary>
    public bool IsReleasedEarly => _releasedEarly;

    /// <summary>The request saves and releases the session now: from here on it reads what was saved and refuses changes.</summary>
    public void MarkReleasedEarly() => _releasedEarly = true;

    /// <summary>Classic <c>Session_Start</c> ran: a new session is stored even if nothing was set.</summary>
    public void MarkStarted() => _established = true;

    // ---- ISession ----

    bool ISession.IsAvailable => true;

    string ISession.Id => SessionID;

    IEnumerable<string> ISession.Keys => _keys;

    Task ISession.LoadAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Changes are written when the request releases its lock, in one fenced step. Committing early only
    /// checks that every value can be serialized, so such errors surface where the application can handle them.
    /// </summary>
    Task ISession.CommitAsync(CancellationToken cancellationToken)
    {
        foreach (var name in _order)
        {
            Refresh(name, _items[name]);
        }

        return Task.CompletedTask;
    }

    bool ISession.TryGetValue(string key, out byte[] value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_items.TryGetValue(key, out var item))
        {
            value = null!;
            return false;
        }

        Refresh(key, item);
        value = _format.DecodeBytes(key, item.Stored);
        return true;
    }

    void ISession.Set(string key, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var stored = _format.EncodeBytes(key, value);
        CheckValueSize(key, stored);
        OnChanging(key);
        Put(key, stored, null, null);
    }

    /// <inheritdoc />
    public IEnumerator<string> GetEnumerator() => _order.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private object? GetObject(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_items.TryGetValue(name, out var item))
        {
            return null;
        }

        if (!item.HasValue)
        {
            var value = _format.Decode(name, item.Stored);
            item.Decoded(name, value, value?.GetType(), _format);
        }

        return item.Value;
    }

    private void SetObject(string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        var type = value?.GetType();
        if (type is not null && !_format.CanStore(type))
        {
            throw new SessionSerializationException(name, TypeNames.CSharp(type),
                $"The session item '{name}' cannot be stored through the object API: the type '{TypeNames.CSharp(type)}' ({type.FullName}) is not allowed. Allow it with options.AllowType<{TypeNames.CSharp(type)}>() in AddLockedSession, or store it with Set<T>().");
        }

        var stored = Encode(name, value, type ?? typeof(object));
        OnChanging(name);
        Put(name, stored, value, type);
    }

    private void Put(string name, byte[] stored, object? value, Type? type)
    {
        if (!_items.TryGetValue(name, out var item))
        {
            item = new SessionItem(stored);
            _items[name] = item;
            _order.Add(name);
        }

        item.Assign(stored, value, type);
    }

    private byte[] Encode(string name, object? value, Type type) => CheckValueSize(name, _format.Encode(name, value, type));

    private byte[] CheckValueSize(string name, byte[] stored) =>
        stored.Length <= _options.MaxValueBytes
            ? stored
            : throw new SessionSerializationException(name, "value",
                $"The session item '{name}' is {stored.Length} bytes serialized, over the limit of {_options.MaxValueBytes} bytes (LockedSessionOptions.MaxValueBytes); nothing was written.");

    /// <param name="what">The item name, or what else changes (<c>Timeout</c>, <c>Clear()</c>), for the read-only warning.</param>
    private void OnChanging(string what)
    {
        ThrowIfReleasedEarly(what);
        if (IsReadOnly)
        {
            NoteReadOnlyChange(what);
            return;
        }

        if (IsNewSession && !_established && !CookieIssued && _responseHasStarted())
        {
            throw new InvalidOperationException("The session cannot be established after the response has started.");
        }

        _established = true;
    }

    private void ThrowIfReleasedEarly(string what)
    {
        if (_releasedEarly)
        {
            throw new InvalidOperationException(
                $"The session was saved and released early by this request to {EndpointName ?? "this endpoint"} (HttpContext.ReleaseSessionAsync()); the change of '{what}' cannot be saved any more. Make the last session change before calling ReleaseSessionAsync.");
        }
    }

    private void NoteReadOnlyChange(string what)
    {
        if (Ended)
        {
            throw new InvalidOperationException($"The session has ended; OnSessionEnd sees its items read-only, so the change of '{what}' is not possible.");
        }

        if (_options.ThrowOnReadOnlyWrite)
        {
            throw new InvalidOperationException(
                $"The session is read-only in this request to {EndpointName ?? "this endpoint"} ([SessionState(SessionStateBehavior.ReadOnly)]); the change of '{what}' is not saved. Use SessionStateBehavior.Required to change it.");
        }

        (_readOnlyChanges ??= new SortedSet<string>(StringComparer.OrdinalIgnoreCase)).Add(what);
    }

    private string NameAt(int index)
    {
        if ((uint)index >= (uint)_order.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "No session item at this position.");
        }

        return _order[index];
    }

    private int IndexOf(string name) => _order.FindIndex(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
}
