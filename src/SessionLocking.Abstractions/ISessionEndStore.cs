namespace SessionLocking;

/// <summary>
/// Implemented by stores that can raise classic <c>Session_End</c>: they keep an ended session's items until the end
/// was raised, and hand each end to one claimer at a time across every server sharing the store. Optional: a store
/// without it raises no ends. Nothing of it runs, and the store records nothing for it, until
/// <see cref="TrackEnds"/> was called (the middleware calls it only when an end handler is registered).
/// </summary>
public interface ISessionEndStore
{
    /// <summary>
    /// Turns recording of ends on; called once, before the first request. From then on an abandoned session is kept
    /// (unusable under its id) until its end is claimed and completed, and a session idle past its timeout is kept
    /// until then too.
    /// </summary>
    /// <param name="endRecorded">Called (on any thread, quickly) when this server recorded an end that is due at once
    /// (an abandon), so the claimer need not wait for its next sweep.</param>
    void TrackEnds(Action endRecorded);

    /// <summary>
    /// Removes the session and its lock, only if <paramref name="lockId"/> is still the current lock, as
    /// <see cref="ISessionStateStore.RemoveAsync"/> does, and records its end (reason
    /// <see cref="SessionEndReason.Abandoned"/>) with the stored items changed by <paramref name="changes"/>: the items
    /// as the abandoning request left them. Called instead of <c>RemoveAsync</c> once ends are tracked. Returns false
    /// (nothing removed, nothing recorded) when the lock was no longer the caller's.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockId">The caller's lock.</param>
    /// <param name="changes">What the abandoning request changed before it called <c>Abandon()</c> (not written as a session).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> AbandonAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken);

    /// <summary>
    /// Claims at most <paramref name="max"/> due ends: sessions idle past their timeout with no lock held (a request
    /// running keeps its session alive), abandoned sessions, and ends whose earlier claim's lease ran out (a claimer
    /// that died). From its claim on, a session's id never gives its old items to a request again. A claim is not
    /// handed out again while <paramref name="lease"/> runs. The cost must grow with the ends claimed, not with the
    /// sessions stored.
    /// </summary>
    /// <param name="max">The most ends to claim.</param>
    /// <param name="lease">How long the claim is the caller's alone.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<IReadOnlyList<SessionEndClaim>> ClaimEndsAsync(int max, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// The end was raised: forgets it and the session's items, only while <paramref name="claim"/> is still the current
    /// claim of that end. Returns false when it was not (its lease ran out and another claimer took it).
    /// </summary>
    /// <param name="claim">A claim <see cref="ClaimEndsAsync"/> returned.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> CompleteEndAsync(SessionEndClaim claim, CancellationToken cancellationToken);
}
