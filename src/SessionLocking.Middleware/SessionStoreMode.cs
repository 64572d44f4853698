namespace SessionLocking;

/// <summary>
/// Which store <c>AddLockedSession</c> uses when the application registers none itself, read from the
/// <c>SessionState:Mode</c> configuration key (classic <c>sessionState mode</c>). An explicit store registration,
/// such as <c>AddRedisStore</c>, wins over it.
/// </summary>
public enum SessionStoreMode
{
    /// <summary>Sessions in this process's memory (classic <c>InProc</c>); the default.</summary>
    InProc = 0,

    /// <summary>
    /// Sessions in Redis, configured by <see cref="LockedSessionOptions.Redis"/> (<c>SessionState:Redis:Configuration</c>,
    /// <c>SessionState:Redis:KeyPrefix</c>, ...). Switches an application with configuration only, for example the
    /// environment variables <c>SessionState__Mode=Redis</c> and <c>SessionState__Redis__Configuration=127.0.0.1:6379</c>.
    /// </summary>
    Redis = 1,
}
