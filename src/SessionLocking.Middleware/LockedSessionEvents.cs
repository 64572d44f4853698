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

    /// <summary>
    /// Classic <c>Session_End</c>: called once per ended session across every server sharing the store, after the
    /// session timed out (within <see cref="LockedSessionOptions.SessionEndSweepInterval"/> of its expiry) or after the
    /// request that abandoned it released it, with its items as they were at the end. Raised by stores that implement
    /// <see cref="ISessionEndStore"/> (in memory, Redis); the legacy provider's store raises none. When null (the
    /// default), nothing of it runs and stores record nothing for it. Register it on every server of a farm.
    /// </summary>
    public Func<SessionEndContext, Task>? OnSessionEnd { get; set; }
}
