namespace SessionLocking.Locking;

/// <summary>How an acquisition ended: with the lock (or, for a reader, the session loaded), or answered without it.</summary>
internal enum AcquireStatus
{
    Acquired,
    QueueFull,
    TimedOut,
}
