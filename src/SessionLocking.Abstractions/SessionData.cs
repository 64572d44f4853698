namespace SessionLocking;

/// <summary>The stored state of one session, as a store loads it.</summary>
public sealed class SessionData
{
    /// <summary>Creates the data of a session.</summary>
    /// <param name="items">The items by name; names are compared case-insensitively.</param>
    /// <param name="timeout">The session's own idle timeout.</param>
    public SessionData(IReadOnlyDictionary<string, byte[]> items, TimeSpan timeout)
    {
        Items = items ?? throw new ArgumentNullException(nameof(items));
        Timeout = timeout;
    }

    /// <summary>The serialized items by name. The arrays must not be changed.</summary>
    public IReadOnlyDictionary<string, byte[]> Items { get; }

    /// <summary>The session's own idle timeout.</summary>
    public TimeSpan Timeout { get; }
}
