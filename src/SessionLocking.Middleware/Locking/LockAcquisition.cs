namespace SessionLocking.Locking;

internal enum AcquireStatus
{
    Acquired,
    QueueFull,
    TimedOut,
}

/// <summary>The outcome of <see cref="SessionLockCoordinator.AcquireAsync"/>; an exclusive one must be handed back to <see cref="SessionLockCoordinator.Release"/>.</summary>
internal readonly record struct LockAcquisition(AcquireStatus Status, SessionStoreResult StoreResult, TimeSpan Waited, SessionWaitQueue? HeldQueue, string SessionId);
