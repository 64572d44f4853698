namespace SessionLocking.Locking;

/// <summary>Better than classic: the head of the queue asks the store as soon as a release is seen; the poll is the safety net.</summary>
internal sealed class WakeOnReleasePolicy(LockedSessionOptions options, TimeProvider time) : LockWaitPolicy(options, time)
{
    public override bool WakesOnRelease => true;

    public override long FirstAskAt(long started, long now, bool releasedSinceStart) => now;

    public override bool WakeCounts(bool releasedSinceStart) => true;
}
