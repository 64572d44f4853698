namespace SessionLocking;

// The end of the request: what the session's release does (the classic rules), what changed, and how a change made in
// place inside an object is found.
internal sealed partial class LockedSession
{
    /// <summary>
    /// The classic release, in order: abandoned → remove (a new session: just release); new id → move; changed →
    /// write back; else release. Throws <see cref="SessionSerializationException"/> when a value cannot be serialized
    /// or a limit is exceeded (the lock's owner then releases without writing).
    /// </summary>
    public Locking.ReleasePlan GetReleasePlan()
    {
        if (IsAbandoned)
        {
            if (IsNewSession)
            {
                return Locking.ReleasePlan.Release;
            }

            return _options.Events.OnSessionEnd is null ? Locking.ReleasePlan.Remove : Locking.ReleasePlan.Abandon(GetAbandonChanges());
        }

        if (IsIdRegenerated && WillBeStored)
        {
            return Locking.ReleasePlan.Move(SessionID, GetSnapshot());
        }

        return GetChanges() is { } changes ? Locking.ReleasePlan.Write(changes) : Locking.ReleasePlan.Release;
    }

    /// <summary>
    /// What to write back: only changed and removed items. Null when nothing changed, or when a new session
    /// was never written (classic: it is not stored and gets no cookie). Throws
    /// <see cref="SessionSerializationException"/> before anything is written when a value cannot be serialized
    /// or a limit is exceeded.
    /// </summary>
    public SessionChanges? GetChanges()
    {
        if (IsNewSession && !WillBeStored)
        {
            return null;
        }

        var set = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        var removed = new List<string>();
        long total = 0;
        foreach (var name in _order)
        {
            var item = _items[name];
            Refresh(name, item);
            total += name.Length + item.Stored.Length;
            if (!_loaded.TryGetValue(name, out var before)
                || (!ReferenceEquals(before, item.Stored) && !before.AsSpan().SequenceEqual(item.Stored)))
            {
                set[name] = item.Stored;
            }

            // The name's case changed (removed, then added again differently): drop the old spelling from stores
            // that compare names exactly.
            if (before is not null && _loadedNames[name] is var loadedName && !string.Equals(loadedName, name, StringComparison.Ordinal))
            {
                removed.Add(loadedName);
                set[name] = item.Stored;
            }
        }

        if (total > _options.MaxSessionBytes)
        {
            throw new SessionSerializationException("*", "session",
                $"The session is {total} bytes serialized, over the limit of {_options.MaxSessionBytes} bytes (LockedSessionOptions.MaxSessionBytes); nothing was written.");
        }

        foreach (var name in _loaded.Keys)
        {
            if (!_items.ContainsKey(name))
            {
                removed.Add(name);
            }
        }

        var timeoutChanged = _timeout != _loadedTimeout;
        if (!IsNewSession && set.Count == 0 && removed.Count == 0 && !timeoutChanged)
        {
            return null;
        }

        return new SessionChanges(set, removed, _timeout, IsNewSession);
    }

    /// <summary>
    /// What the abandoning request changed, for <c>OnSessionEnd</c> to see the items as the request left them. An item
    /// that cannot be serialized is left out (the handler sees what was stored): the abandon itself never fails for it.
    /// </summary>
    private SessionChanges GetAbandonChanges()
    {
        try
        {
            if (GetChanges() is { } changes)
            {
                return changes;
            }
        }
        catch (SessionSerializationException)
        {
        }

        return new SessionChanges(new Dictionary<string, byte[]>(), Array.Empty<string>(), _timeout, isNew: false);
    }

    /// <summary>Every item, for writing the session under a regenerated id.</summary>
    public SessionChanges GetSnapshot()
    {
        var all = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in _order)
        {
            var item = _items[name];
            Refresh(name, item);
            all[name] = item.Stored;
        }

        return new SessionChanges(all, Array.Empty<string>(), _timeout, isNew: true);
    }

    /// <summary>A mutable object may have changed since it was read or set: serialize it again (unchanged: not written, not checked).</summary>
    private void Refresh(string name, SessionItem item)
    {
        byte[]? changed;
        try
        {
            changed = item.Refresh(name, _format);
        }
        catch (SessionSerializationException ex)
        {
            // The stack trace points into the middleware, far from the code that made the change: say where to look.
            throw new SessionSerializationException(name, ex.TypeName,
                $"The session item '{name}' ({ex.TypeName}) could not be saved at the end of the request to {EndpointName ?? "this endpoint"}: "
                + "an object read from or stored in the session is serialized again when the request ends, so a change made in place "
                + "(such as a reference cycle through navigation properties) is found there, not where it was made. "
                + $"Store plain data instead (a DTO with no navigation properties), or assign the item again (Session[\"{name}\"] = value) to see the error where the change is made. {ex.InnerException?.Message ?? ex.Message}",
                ex);
        }

        if (changed is not null)
        {
            CheckValueSize(name, changed);
        }
    }
}
