namespace SessionLocking;

/// <summary>
/// How a request uses session state. The values match <c>System.Web.SessionState.SessionStateBehavior</c>.
/// </summary>
public enum SessionStateBehavior
{
    /// <summary>Use the application's configured default (<c>LockedSessionOptions.DefaultBehavior</c>).</summary>
    Default = 0,

    /// <summary>Exclusive lock for the whole request; the session is loaded, may be changed and is written back at the end.</summary>
    Required = 1,

    /// <summary>No lock of its own, but waits while a writer holds the lock; changes are never saved.</summary>
    ReadOnly = 2,

    /// <summary>No session at all; touching the session throws <see cref="InvalidOperationException"/>.</summary>
    Disabled = 3,
}
