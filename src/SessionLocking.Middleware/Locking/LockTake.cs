namespace SessionLocking.Locking;

/// <summary>
/// One lock-taking store call, from the moment it is sent until its caller has the answer. The store's answer is
/// recorded here before anything else runs, so when the call ends any other way (the client left while it was on its
/// way or as it answered, or telemetry failed after the answer) <see cref="AbandonedLockReleaser"/> can take the call
/// over and release what it took.
/// </summary>
internal sealed class LockTake
{
    private SessionStoreResult _answer;
    private bool _answered;

    /// <summary>The store call still on its way when its caller stopped waiting for it; null when it answered in line.</summary>
    public Task? InFlight { get; private set; }

    /// <summary>True when the store answered with a lock of this acquisition's own (nothing else is there to release).</summary>
    public bool TookLock => _answered && _answer.Status != SessionStoreStatus.Locked && _answer.HasLock;

    /// <summary>The lock the store gave this acquisition; read only when <see cref="TookLock"/> is true.</summary>
    public SessionLockId LockId => _answer.LockId;

    /// <summary>The call did not answer in line; its caller waits for it (and may stop waiting).</summary>
    public void Sent(Task call) => InFlight = call;

    /// <summary>The store's own answer, recorded before any telemetry or bookkeeping can fail.</summary>
    public void Answered(SessionStoreResult answer)
    {
        _answer = answer;
        _answered = true;
    }
}
