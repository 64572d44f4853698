namespace SessionLocking;

/// <summary>
/// One ended session a store handed to a claimer (<see cref="ISessionEndStore.ClaimEndsAsync"/>): the session's id,
/// why it ended and its items as they were at the end. No other claimer gets it while the claim's lease runs.
/// </summary>
public sealed class SessionEndClaim
{
    /// <summary>Creates a claim.</summary>
    /// <param name="sessionId">The ended session's id.</param>
    /// <param name="reason">Why it ended.</param>
    /// <param name="data">Its items and timeout at the end.</param>
    /// <param name="claimToken">The store's proof of this claim, given back to <see cref="ISessionEndStore.CompleteEndAsync"/>.</param>
    public SessionEndClaim(string sessionId, SessionEndReason reason, SessionData data, string claimToken)
    {
        SessionId = sessionId ?? throw new ArgumentNullException(nameof(sessionId));
        Reason = reason;
        Data = data ?? throw new ArgumentNullException(nameof(data));
        ClaimToken = claimToken ?? throw new ArgumentNullException(nameof(claimToken));
    }

    /// <summary>The ended session's id.</summary>
    public string SessionId { get; }

    /// <summary>Why it ended.</summary>
    public SessionEndReason Reason { get; }

    /// <summary>The session's items and timeout as they were at the end.</summary>
    public SessionData Data { get; }

    /// <summary>The store's proof of this claim; only the current claim completes the end.</summary>
    public string ClaimToken { get; }
}
