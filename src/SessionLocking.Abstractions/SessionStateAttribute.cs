namespace SessionLocking;

/// <summary>
/// Declares how a controller, action or endpoint handler uses session state, exactly where
/// <c>System.Web.Mvc.SessionStateAttribute</c> stood. An attribute on an action wins over one on its
/// controller; a controller inherits the attribute of its base class. Attributes win over
/// conventions added with <c>WithSessionState</c>. <see cref="LockWaitTimeoutMilliseconds"/> lets one endpoint give
/// up waiting for the session sooner (or later) than the application's <c>LockWaitTimeout</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class SessionStateAttribute : Attribute, ISessionStateMetadata
{
    private int _lockWaitTimeoutMilliseconds;

    /// <summary>Creates the attribute.</summary>
    /// <param name="behavior">How the request uses session state.</param>
    public SessionStateAttribute(SessionStateBehavior behavior)
    {
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown session state behavior.");
        }

        Behavior = behavior;
    }

    /// <summary>How the request uses session state.</summary>
    public SessionStateBehavior Behavior { get; }

    /// <summary>
    /// How many milliseconds a request waits for the session's lock (or, read-only, for the writer to release it)
    /// before it is answered 503: an autocomplete can give up after 300 ms while a checkout waits. 0 (the default)
    /// takes the limit from a less specific place (the controller's attribute, then <c>WithSessionState</c>), else the
    /// application's <c>LockedSessionOptions.LockWaitTimeout</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int LockWaitTimeoutMilliseconds
    {
        get => _lockWaitTimeoutMilliseconds;
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(LockWaitTimeoutMilliseconds), value, "The lock wait limit cannot be negative; 0 means the application's LockWaitTimeout.");
            }

            _lockWaitTimeoutMilliseconds = value;
        }
    }

    /// <inheritdoc/>
    TimeSpan? ISessionStateMetadata.LockWaitTimeout =>
        _lockWaitTimeoutMilliseconds > 0 ? TimeSpan.FromMilliseconds(_lockWaitTimeoutMilliseconds) : null;
}
