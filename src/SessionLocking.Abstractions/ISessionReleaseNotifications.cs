namespace SessionLocking;

/// <summary>
/// Implemented by stores that can tell when a session's lock is released by any server, so that waiters
/// wake at once instead of at the next poll. Delivery may be lost (at most once); the middleware keeps
/// polling as the safety net.
/// </summary>
public interface ISessionReleaseNotifications
{
    /// <summary>
    /// Starts listening for releases of one session's lock. <paramref name="onReleased"/> may be called on
    /// any thread, more than once, and must return quickly. Disposing the result stops listening.
    /// The subscription is active when the returned task completes; the call must be bounded by the store's
    /// own timeout, because the next store call of a waiter waits for it.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="onReleased">Called when the lock was released.</param>
    /// <param name="cancellationToken">Cancels subscribing.</param>
    ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken);
}
