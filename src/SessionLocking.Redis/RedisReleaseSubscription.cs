using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>One waiter's subscription to a session's release channel; disposing it unsubscribes (once).</summary>
internal sealed class RedisReleaseSubscription(RedisConnection connection, ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
{
    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        const string Operation = "unsubscribe";
        try
        {
            await connection.WithTimeout(subscriber.UnsubscribeAsync(channel, handler, CommandFlags.None), Operation, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not SessionStoreUnavailableException)
        {
            throw new SessionStoreUnavailableException($"The session store's {Operation} failed: {ex.Message}", ex) { Operation = Operation };
        }
    }
}
