using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Listens for lock releases reported by the store (<see cref="ISessionReleaseNotifications"/>, an optional service)
/// while a session has waiters on this server, and wakes the head of its queue (<see cref="SessionQueues"/> begins and
/// ends each subscription). Without that service, or in classic polling mode, it does nothing and waiters rely on local releases and the poll.
/// </summary>
internal sealed class ReleaseSubscriptions
{
    private readonly ISessionReleaseNotifications? _notifications;
    private readonly ILogger _logger;

    public ReleaseSubscriptions(ISessionReleaseNotifications? notifications, ILogger logger)
    {
        _notifications = notifications;
        _logger = logger;
    }

    /// <summary>Starts listening for the session's releases once, when its first waiter joins. Call under the queue's lock.</summary>
    public void Begin(string sessionId, SessionWaitQueue queue)
    {
        if (_notifications is not null && queue.Subscription is null)
        {
            // Off this lock: a store may call back synchronously while subscribing.
            queue.Subscription = Task.Run(() => SubscribeAsync(queue, sessionId));
        }
    }

    /// <summary>Stops listening once the queue is retired.</summary>
    public void End(string sessionId, SessionWaitQueue queue)
    {
        Task<IAsyncDisposable?>? subscription;
        lock (queue.Sync)
        {
            subscription = queue.Subscription;
        }

        if (subscription is not null)
        {
            _ = UnsubscribeAsync(subscription, sessionId);
        }
    }

    private async Task<IAsyncDisposable?> SubscribeAsync(SessionWaitQueue queue, string sessionId)
    {
        try
        {
            return await _notifications!.SubscribeAsync(sessionId, () =>
            {
                lock (queue.Sync)
                {
                    queue.WakeHead();
                }
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ReleaseSubscriptionFailed(_logger, ex, new SessionKey(sessionId));
            return null;
        }
    }

    private async Task UnsubscribeAsync(Task<IAsyncDisposable?> subscription, string sessionId)
    {
        try
        {
            if (await subscription.ConfigureAwait(false) is { } active)
            {
                await active.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Log.ReleaseSubscriptionFailed(_logger, ex, new SessionKey(sessionId));
        }
    }
}
