namespace SessionLocking.Stores;

// Session_End in memory: with ends tracked, a stored session has one place in a queue ordered by the instant it expires
// unless slid (moved on when reached before the session really expired, so sliding costs nothing); an expired or
// abandoned session's items move to the ended list, where the dispatcher claims them. Nothing here runs untracked.
internal sealed partial class InMemorySessionStateStore
{
    private readonly PriorityQueue<(string Id, Entry Entry), long> _dueEnds = new();
    private readonly Dictionary<long, EndedSession> _ended = new();
    private Action? _endRecorded;
    private long _lastEnd;
    private long _lastClaim;

    /// <summary>Ends recorded and not yet completed (for tests).</summary>
    internal int PendingEnds
    {
        get
        {
            lock (_sync)
            {
                return _ended.Count;
            }
        }
    }

    /// <inheritdoc />
    public void TrackEnds(Action endRecorded)
    {
        ArgumentNullException.ThrowIfNull(endRecorded);
        lock (_sync)
        {
            _endRecorded = endRecorded;
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionEndClaim>> ClaimEndsAsync(int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetTimestamp();
        var claims = new List<SessionEndClaim>();
        lock (_sync)
        {
            while (_dueEnds.TryPeek(out var queued, out var due) && due <= now)
            {
                _dueEnds.Dequeue();
                if (!_entries.TryGetValue(queued.Id, out var entry) || !ReferenceEquals(entry, queued.Entry))
                {
                    continue; // Removed (abandoned, or ended already).
                }

                if (entry.IsExpired(now))
                {
                    RecordEnd(queued.Id, entry, SessionEndReason.Timeout);
                    _entries.Remove(queued.Id);
                }
                else
                {
                    _dueEnds.Enqueue(queued, entry.DueAt(now));
                }
            }

            var leaseTicks = (long)(lease.TotalSeconds * _time.TimestampFrequency);
            foreach (var (key, ended) in _ended)
            {
                if (claims.Count >= max)
                {
                    break;
                }

                if (ended.Claim != 0 && ended.LeaseUntil > now)
                {
                    continue;
                }

                ended.Claim = ++_lastClaim;
                ended.LeaseUntil = now + leaseTicks;
                claims.Add(new SessionEndClaim(ended.Id, ended.Reason, ended.Data, key + ":" + ended.Claim));
            }
        }

        return ValueTask.FromResult<IReadOnlyList<SessionEndClaim>>(claims);
    }

    /// <inheritdoc />
    public ValueTask<bool> CompleteEndAsync(SessionEndClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var parts = claim.ClaimToken.Split(':');
        lock (_sync)
        {
            if (parts.Length == 2 && long.TryParse(parts[0], out var key) && long.TryParse(parts[1], out var number)
                && _ended.TryGetValue(key, out var ended) && ended.Claim == number)
            {
                _ended.Remove(key);
                return ValueTask.FromResult(true);
            }
        }

        return ValueTask.FromResult(false);
    }

    /// <summary>A session that became stored takes its place in the queue of due ends (once), when ends are tracked. Under the lock.</summary>
    private void ScheduleEnd(string sessionId, Entry entry)
    {
        if (_endRecorded is not null && !entry.EndScheduled)
        {
            entry.EndScheduled = true;
            _dueEnds.Enqueue((sessionId, entry), entry.DueAt(_time.GetTimestamp()));
        }
    }

    /// <summary>Keeps an ending stored session's items for its end, when ends are tracked; true when it did. Under the lock.</summary>
    private bool RecordEnd(string sessionId, Entry entry, SessionEndReason reason)
    {
        if (_endRecorded is null || !entry.IsStored)
        {
            return false;
        }

        _ended[++_lastEnd] = new EndedSession(sessionId, reason, entry.Snapshot());
        return true;
    }

    /// <summary>An ended session waiting for its end to be raised; <see cref="Claim"/> 0 while unclaimed.</summary>
    private sealed class EndedSession(string id, SessionEndReason reason, SessionData data)
    {
        public string Id { get; } = id;

        public SessionEndReason Reason { get; } = reason;

        public SessionData Data { get; } = data;

        public long Claim { get; set; }

        public long LeaseUntil { get; set; }
    }
}
