namespace SessionLocking.Locking;

/// <summary>How a request that held a session lock ends it: the classic release rules, decided by the session.</summary>
internal enum ReleaseKind
{
    /// <summary>Nothing to save: release the lock only.</summary>
    Release,

    /// <summary>Write the changes back and release, in one fenced step.</summary>
    Write,

    /// <summary>Abandoned: remove the session and its lock.</summary>
    Remove,

    /// <summary>The id was regenerated: store the session under the new id and remove it under the old one.</summary>
    Move,
}

/// <summary>
/// What <see cref="SessionLock.CarryOutAsync"/> does with the lock at the end of a request: produced by
/// <see cref="LockedSession.GetReleasePlan"/>, carried out by the lock's owner.
/// </summary>
internal sealed class ReleasePlan
{
    private ReleasePlan(ReleaseKind kind, SessionChanges? changes, string? newSessionId, bool bestEffort = false)
    {
        Kind = kind;
        Changes = changes;
        NewSessionId = newSessionId;
        BestEffort = bestEffort;
    }

    public static ReleasePlan Release { get; } = new(ReleaseKind.Release, null, null);

    /// <summary>
    /// The release of a new session that was never stored and whose id never left the server (no cookie came with the
    /// request or went with the response): if it fails, nothing is lost and nobody waits for the lock, which expires
    /// by its time to live.
    /// </summary>
    public static ReleasePlan ReleaseNeverShared { get; } = new(ReleaseKind.Release, null, null, bestEffort: true);

    public static ReleasePlan Remove { get; } = new(ReleaseKind.Remove, null, null);

    public ReleaseKind Kind { get; }

    /// <summary>For <see cref="ReleaseKind.Write"/>: what changed; for <see cref="ReleaseKind.Move"/>: every item; for an abandon whose end is raised: what changed before <c>Abandon()</c>.</summary>
    public SessionChanges? Changes { get; }

    /// <summary>For <see cref="ReleaseKind.Move"/>: the session's new id.</summary>
    public string? NewSessionId { get; }

    /// <summary>True when a store failure while carrying out the plan does not fail the request (<see cref="ReleaseNeverShared"/>).</summary>
    public bool BestEffort { get; }

    /// <summary>True when something the request did is lost if the store rejects the plan (the lock was no longer ours).</summary>
    public bool CarriesChanges => Kind != ReleaseKind.Release;

    public static ReleasePlan Write(SessionChanges changes) => new(ReleaseKind.Write, changes, null);

    /// <summary>Abandoned while session ends are raised: remove, and record the end with the items as the request left them.</summary>
    public static ReleasePlan Abandon(SessionChanges lastChanges) => new(ReleaseKind.Remove, lastChanges, null);

    public static ReleasePlan Move(string newSessionId, SessionChanges snapshot) => new(ReleaseKind.Move, snapshot, newSessionId);
}
