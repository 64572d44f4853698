namespace SessionLocking.Stores;

/// <summary>
/// The embedded default store, classic InProc: sessions live in this process's memory, with the same lock
/// and fencing semantics as the Redis store. Idle sessions expire after their own timeout (sliding) and are
/// swept once a minute; an expired session is never returned, swept or not. Time comes from the
/// <see cref="TimeProvider"/> so tests need not sleep.
/// </summary>
internal sealed class InMemorySessionStateStore : ISessionStateStore, IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;
    private long _lastToken;

    /// <summary>Creates the store.</summary>
    /// <param name="timeProvider">The clock for lock ages and expiry.</param>
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
    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            var entry = Live(sessionId, now);
            if (entry is null)
            {
                if (!createIfMissing)
                {
                    return ValueTask.FromResult(SessionStoreResult.NotFound());
                }

                entry = new Entry(); // A placeholder: locked, not stored; its timeout comes with the first write.
                _entries[sessionId] = entry;
            }

            if (entry.IsLocked(now))
            {
                return ValueTask.FromResult(SessionStoreResult.Locked(new SessionLockId(entry.LockToken), now - entry.LockedAt));
            }

            var lockId = new SessionLockId(++_lastToken);
            entry.LockToken = lockId.Token;
            entry.LockedAt = now;
            entry.LockExpires = now + lockTimeout;
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
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            var entry = Live(sessionId, now);
            if (entry is null)
            {
                return ValueTask.FromResult(SessionStoreResult.NotFound());
            }

            if (entry.IsLocked(now))
            {
                return ValueTask.FromResult(SessionStoreResult.Locked(new SessionLockId(entry.LockToken), now - entry.LockedAt));
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
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(lockId, now))
            {
                return ValueTask.FromResult(false);
            }

            foreach (var name in changes.Removed)
            {
                entry.Items.Remove(name);
            }

            foreach (var (name, value) in changes.Set)
            {
                entry.Items[name] = value;
            }

            entry.IsStored = true;
            entry.Timeout = changes.Timeout;
            entry.LastAccess = now;
            entry.Unlock();
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
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
    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            if (!_entries.TryGetValue(sessionId, out var entry) || !entry.IsHeldBy(lockId, now))
            {
                return ValueTask.FromResult(false);
            }

            _entries.Remove(sessionId);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
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
        var now = _time.GetUtcNow();
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

    /// <summary>Removes sessions idle past their timeout whose lock (if any) has expired too.</summary>
    internal void Sweep()
    {
        var now = _time.GetUtcNow();
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
                    _entries.Remove(id);
                }
            }
        }
    }

    private Entry? Live(string sessionId, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(sessionId, out var entry))
        {
            return null;
        }

        if (entry.IsExpired(now))
        {
            _entries.Remove(sessionId);
            return null;
        }

        return entry;
    }

    private sealed class Entry
    {
        public Dictionary<string, byte[]> Items { get; } = new(StringComparer.OrdinalIgnoreCase);

        public bool IsStored { get; set; }

        public TimeSpan Timeout { get; set; }

        public DateTimeOffset LastAccess { get; set; }

        public long LockToken { get; set; }

        public DateTimeOffset LockedAt { get; set; }

        public DateTimeOffset LockExpires { get; set; }

        public bool IsLocked(DateTimeOffset now) => LockToken != 0 && now < LockExpires;

        public bool IsHeldBy(SessionLockId lockId, DateTimeOffset now) => LockToken == lockId.Token && IsLocked(now);

        public bool IsExpired(DateTimeOffset now) =>
            !IsLocked(now) && (!IsStored || now - LastAccess >= Timeout);

        public void Unlock()
        {
            LockToken = 0;
            LockedAt = default;
            LockExpires = default;
        }

        public SessionData Snapshot() => new(new Dictionary<string, byte[]>(Items, StringComparer.OrdinalIgnoreCase), Timeout);
    }
}
