namespace SessionLocking.Stores;

/// <summary>
/// The embedded default store, classic InProc: sessions live in this process's memory, with the same lock
/// and fencing semantics as the Redis store. Idle sessions expire after their own timeout (sliding) and are
/// swept once a minute; an expired session is never returned, swept or not. Lock ages and expiry are measured on
/// the <see cref="TimeProvider"/>'s monotonic timestamp, never its wall clock: a wall-clock step (NTP, a VM restored
/// from a snapshot) neither frees a held lock nor expires every session at once. The provider lets tests move time
/// without sleeping.
/// </summary>
internal sealed partial class InMemorySessionStateStore : ISessionStateStore, ISessionEndStore, IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;
    private long _lastToken;

    /// <summary>Creates the store.</summary>
    /// <param name="timeProvider">The clock for lock ages and expiry (its timestamp, which only elapsed time moves).</param>
    public InMemorySessionStateStore(TimeProvider timeProvider)
    {
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _sweeper = _time.CreateTimer(static state => ((InMemorySessionStateStore)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    /// <inheritdoc />
    public SessionStateMode Mode => SessionStateMode.InProc;

    /// <summary>How many sessions (stored, or locked while new) the store holds now.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The ids of the sessions the store holds now (for tests and diagnostics).</summary>
    internal IReadOnlyCollection<string> SessionIds
    {
        get
        {
            lock (_sync)
            {
                return _entries.Keys.ToArray();
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint: null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            var entry = Live(sessionId, now);
            if (entry is null)
            {
                if (!createIfMissing)
                {
                    return ValueTask.FromResult(SessionStoreResult.NotFound());
                }

                entry = new Entry(_time); // A placeholder: locked, not stored; its timeout comes with the first write.
                _entries[sessionId] = entry;
            }

            if (entry.IsLocked(now))
            {
                return ValueTask.FromResult(SessionStoreResult.Locked(new SessionLockId(entry.LockToken), entry.LockAge(now), entry.Holder));
            }

            var lockId = new SessionLockId(++_lastToken);
            entry.LockToken = lockId.Token;
            entry.LockedAt = now;
            entry.LockTimeout = lockTimeout;
            entry.Holder = SessionStoreResult.BoundHolder(holderEndpoint);
            if (!entry.IsStored)
            {
                return ValueTask.FromResult(SessionStoreResult.NotFound(lockId));
            }

            entry.LastAccess = now;
            return ValueTask.FromResult(SessionStoreResult.Found(entry.Snapshot(), lockId));
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            var entry = Live(sessionId, now);
            if (entry is null)
            {
                return ValueTask.FromResult(SessionStoreResult.NotFound());
            }

            if (entry.IsLocked(now))
            {
                return ValueTask.FromResult(SessionStoreResult.Locked(new SessionLockId(entry.LockToken), entry.LockAge(now), entry.Holder));
            }

            if (!entry.IsStored)
            {
                return ValueTask.FromResult(SessionStoreResult.NotFound());
            }

            entry.LastAccess = now;
            return ValueTask.FromResult(SessionStoreResult.Found(entry.Snapshot()));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(lockId, now))
            {
                return ValueTask.FromResult(false);
            }

            Apply(entry, changes);
            entry.IsStored = true;
            entry.Timeout = changes.Timeout;
            entry.LastAccess = now;
            entry.Unlock();
            ScheduleEnd(sessionId, entry);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(lockId, now))
            {
                return ValueTask.FromResult(false);
            }

            if (!entry.IsStored)
            {
                // Locked while new and never written: classic stores nothing.
                _entries.Remove(sessionId);
                return ValueTask.FromResult(true);
            }

            entry.LastAccess = now;
            entry.Unlock();
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, lockId, lastChanges: null);

    /// <inheritdoc />
    public ValueTask<bool> AbandonAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, lockId, changes ?? throw new ArgumentNullException(nameof(changes)));

    /// <inheritdoc />
    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            // Like a Redis lock key whose TTL ran out: an expired lock is already gone, nothing to release.
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(holderLockId, now))
            {
                return ValueTask.FromResult(false);
            }

            if (!entry.IsStored)
            {
                _entries.Remove(sessionId);
            }
            else
            {
                entry.Unlock();
            }

            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            if (Live(sessionId, now) is { IsStored: true } entry)
            {
                entry.LastAccess = now;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => _sweeper.Dispose();

    /// <summary>Removes the session; for an abandon (<paramref name="lastChanges"/> given) with ends tracked, its end is recorded with the items changed by them.</summary>
    private ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, SessionChanges? lastChanges)
    {
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(lockId, now))
            {
                return ValueTask.FromResult(false);
            }

            _entries.Remove(sessionId);

            // A plain remove is the old id of a moved session (RegenerateId): the session lives on, so it has no end.
            if (lastChanges is null)
            {
                return ValueTask.FromResult(true);
            }

            Apply(entry, lastChanges);
            if (!RecordEnd(sessionId, entry, SessionEndReason.Abandoned))
            {
                return ValueTask.FromResult(true);
            }
        }

        // Outside the store's lock: the dispatcher claims the abandon at once.
        _endRecorded?.Invoke();
        return ValueTask.FromResult(true);
    }

    private static void Apply(Entry entry, SessionChanges changes)
    {
        foreach (var name in changes.Removed)
        {
            entry.Items.Remove(name);
        }

        foreach (var (name, value) in changes.Set)
        {
            entry.Items[name] = value;
        }
    }

    /// <summary>Removes sessions idle past their timeout whose lock (if any) has expired too.</summary>
    internal void Sweep()
    {
        var now = _time.GetTimestamp();
        lock (_sync)
        {
            List<string>? expired = null;
            foreach (var (id, entry) in _entries)
            {
                if (entry.IsExpired(now))
                {
                    (expired ??= new()).Add(id);
                }
            }

            if (expired is not null)
            {
                foreach (var id in expired)
                {
                    RecordEnd(id, _entries[id], SessionEndReason.Timeout);
                    _entries.Remove(id);
                }
            }
        }
    }

    private Entry? Live(string sessionId, long now)
    {
        if (!_entries.TryGetValue(sessionId, out var entry))
        {
            return null;
        }

        if (entry.IsExpired(now))
        {
            // Its end (when ends are tracked) takes the items; the request gets a new session, never these.
            RecordEnd(sessionId, entry, SessionEndReason.Timeout);
            _entries.Remove(sessionId);
            return null;
        }

        return entry;
    }

    /// <summary>One session; every instant is a timestamp of the store's <see cref="TimeProvider"/>.</summary>
    private sealed class Entry(TimeProvider time)
    {
        public Dictionary<string, byte[]> Items { get; } = new(StringComparer.OrdinalIgnoreCase);

        public bool IsStored { get; set; }

        public TimeSpan Timeout { get; set; }

        public long LastAccess { get; set; }

        public long LockToken { get; set; }

        public long LockedAt { get; set; }

        /// <summary>True once the session has its place in the queue of due ends (it keeps one place, moved on when reached early).</summary>
        public bool EndScheduled { get; set; }

        /// <summary>When the session expires if nothing slides it: at its timeout after the last access, or when a held lock expires.</summary>
        public long DueAt(long now)
        {
            var due = LastAccess + (long)(Timeout.TotalSeconds * time.TimestampFrequency);
            if (IsLocked(now))
            {
                due = Math.Max(due, LockedAt + (long)(LockTimeout.TotalSeconds * time.TimestampFrequency));
            }

            return due;
        }

        public TimeSpan LockTimeout { get; set; }

        /// <summary>The lock holder's endpoint (null when not given).</summary>
        public string? Holder { get; set; }

        public TimeSpan LockAge(long now) => time.GetElapsedTime(LockedAt, now);

        // Durations are compared, never instants added to a timeout: no overflow for any TimeSpan a caller passes.
        public bool IsLocked(long now) => LockToken != 0 && LockAge(now) < LockTimeout;

        public bool IsHeldBy(SessionLockId lockId, long now) => LockToken == lockId.Token && IsLocked(now);

        public bool IsExpired(long now) =>
            !IsLocked(now) && (!IsStored || time.GetElapsedTime(LastAccess, now) >= Timeout);

        public void Unlock()
        {
            LockToken = 0;
            LockedAt = default;
            LockTimeout = default;
            Holder = null;
        }

        public SessionData Snapshot() => new(new Dictionary<string, byte[]>(Items, StringComparer.OrdinalIgnoreCase), Timeout);
    }
}
