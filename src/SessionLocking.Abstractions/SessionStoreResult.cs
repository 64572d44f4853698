namespace SessionLocking;

/// <summary>What a store read reports, modelled on classic <c>GetItemExclusive</c>/<c>GetItem</c>.</summary>
public readonly struct SessionStoreResult
{
    private SessionStoreResult(SessionStoreStatus status, SessionData? data, SessionLockId lockId, TimeSpan lockAge, string? holderEndpoint = null)
    {
        Status = status;
        Data = data;
        LockId = lockId;
        LockAge = lockAge;
        HolderEndpoint = holderEndpoint;
    }

    /// <summary>The longest <see cref="HolderEndpoint"/> a store keeps (longer names are cut).</summary>
    public const int MaxHolderEndpointLength = 128;

    /// <summary>What happened.</summary>
    public SessionStoreStatus Status { get; }

    /// <summary>The loaded session when <see cref="Status"/> is <see cref="SessionStoreStatus.Found"/>.</summary>
    public SessionData? Data { get; }

    /// <summary>
    /// After an exclusive get that succeeded: the caller's own lock. When <see cref="Status"/> is
    /// <see cref="SessionStoreStatus.Locked"/>: the holder's lock. <c>default</c> when no lock was taken
    /// (a shared get, or NotFound without <c>createIfMissing</c>); stores never issue the token 0.
    /// </summary>
    public SessionLockId LockId { get; }

    /// <summary>True when the result carries a lock (the caller's, or the holder's); false for <c>default</c>.</summary>
    public bool HasLock => LockId != default;

    /// <summary>When locked by another: how long that lock has been held, measured by the store's clock.</summary>
    public TimeSpan LockAge { get; }

    /// <summary>
    /// When locked by another: the endpoint of the request that holds the lock (its route pattern or display name, as
    /// the holder gave it to <see cref="ISessionStateStore.GetExclusiveAsync(string, TimeSpan, bool, string?, CancellationToken)"/>);
    /// null when the store does not know it.
    /// </summary>
    public string? HolderEndpoint { get; }

    /// <summary>The session was loaded; <paramref name="lockId"/> is the caller's lock (default for a shared get).</summary>
    /// <param name="data">The loaded data.</param>
    /// <param name="lockId">The caller's lock, after an exclusive get.</param>
    public static SessionStoreResult Found(SessionData data, SessionLockId lockId = default) =>
        new(SessionStoreStatus.Found, data ?? throw new ArgumentNullException(nameof(data)), lockId, TimeSpan.Zero);

    /// <summary>The session does not exist; <paramref name="lockId"/> is the caller's lock when one was taken.</summary>
    /// <param name="lockId">The caller's lock on the new session, after an exclusive get that created it.</param>
    public static SessionStoreResult NotFound(SessionLockId lockId = default) =>
        new(SessionStoreStatus.NotFound, null, lockId, TimeSpan.Zero);

    /// <summary>Another request holds the lock.</summary>
    /// <param name="holder">The holder's lock.</param>
    /// <param name="lockAge">How long the holder has held it, by the store's clock.</param>
    public static SessionStoreResult Locked(SessionLockId holder, TimeSpan lockAge) =>
        new(SessionStoreStatus.Locked, null, holder, lockAge < TimeSpan.Zero ? TimeSpan.Zero : lockAge);

    /// <summary>Another request holds the lock, and the store knows that request's endpoint.</summary>
    /// <param name="holder">The holder's lock.</param>
    /// <param name="lockAge">How long the holder has held it, by the store's clock.</param>
    /// <param name="holderEndpoint">The holder's endpoint (route pattern or display name); null when unknown.</param>
    public static SessionStoreResult Locked(SessionLockId holder, TimeSpan lockAge, string? holderEndpoint) =>
        new(SessionStoreStatus.Locked, null, holder, lockAge < TimeSpan.Zero ? TimeSpan.Zero : lockAge, BoundHolder(holderEndpoint));

    /// <summary>A holder's endpoint as stores keep it: null for empty, at most <see cref="MaxHolderEndpointLength"/> characters.</summary>
    /// <param name="holderEndpoint">The endpoint's name.</param>
    public static string? BoundHolder(string? holderEndpoint) =>
        string.IsNullOrEmpty(holderEndpoint) ? null
        : holderEndpoint.Length <= MaxHolderEndpointLength ? holderEndpoint
        : holderEndpoint[..MaxHolderEndpointLength];
}
