namespace SessionLocking;

/// <summary>Why a session ended (classic <c>Session_End</c>).</summary>
public enum SessionEndReason
{
    /// <summary>The session's sliding timeout ran out with no request.</summary>
    Timeout = 0,

    /// <summary>A request called <c>Abandon()</c> and released the session.</summary>
    Abandoned = 1,
}
