namespace SessionLocking;

/// <summary>
/// What a request changed in a session, to be written back by
/// <see cref="ISessionStateStore.WriteAndReleaseAsync"/>: only the changed items are sent, never the whole session.
/// A store applies <see cref="Removed"/> before <see cref="Set"/> (a name whose spelling changed appears in both).
/// </summary>
public sealed class SessionChanges
{
    /// <summary>Creates a change set.</summary>
    /// <param name="set">Items added or changed, by name.</param>
    /// <param name="removed">Names of items removed.</param>
    /// <param name="timeout">The session's idle timeout from now on.</param>
    /// <param name="isNew">True when the session does not exist in the store yet.</param>
    public SessionChanges(IReadOnlyDictionary<string, byte[]> set, IReadOnlyCollection<string> removed, TimeSpan timeout, bool isNew)
    {
        Set = set ?? throw new ArgumentNullException(nameof(set));
        Removed = removed ?? throw new ArgumentNullException(nameof(removed));
        Timeout = timeout;
        IsNew = isNew;
    }

    /// <summary>Items added or changed, by name.</summary>
    public IReadOnlyDictionary<string, byte[]> Set { get; }

    /// <summary>Names of items removed.</summary>
    public IReadOnlyCollection<string> Removed { get; }

    /// <summary>The session's idle timeout from now on (sliding).</summary>
    public TimeSpan Timeout { get; }

    /// <summary>True when the session does not exist in the store yet and is created by this write.</summary>
    public bool IsNew { get; }
}
