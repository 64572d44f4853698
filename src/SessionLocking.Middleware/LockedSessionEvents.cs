namespace SessionLocking;

/// <summary>Callbacks of the locked session.</summary>
public sealed class LockedSessionEvents
{
    /// <summary>
    /// Classic <c>Session_Start</c>: called once for a new session, in the first request that may write it
    /// (<see cref="SessionStateBehavior.Required"/>), before the endpoint runs. When set, a new session is
    /// stored even if the handler sets nothing, as in classic ASP.NET.
    /// </summary>
    public Func<SessionStartContext, Task>? OnSessionStart { get; set; }
}
