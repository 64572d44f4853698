using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The release channel of both Redis stores: the scripts publish a release on the session's channel (SPUBLISH when
/// the waiters of this connection subscribe to sharded channels, else PUBLISH; decided once per connection by
/// <see cref="RedisReleaseChannels"/>), and waiters subscribe to it. A channel name carries the session's hash tag,
/// so a sharded channel lives on the shard of the session's keys.
/// </summary>
internal sealed class RedisReleaseNotifier : IDisposable
{
    private readonly RedisConnection _connection;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private RedisReleaseChannels _channels;

    public RedisReleaseNotifier(RedisConnection connection, ReleaseChannelChoice choice, ILogger logger, TimeProvider timeProvider)
    {
        _connection = connection;
        _logger = logger;
        _timeProvider = timeProvider;
        _channels = new RedisReleaseChannels(choice, logger, timeProvider);
    }

    /// <summary>Sharded pub/sub where available (the default), or classic only (the benchmark's baseline).</summary>
    public ReleaseChannelChoice Choice
    {
        set
        {
            _channels.Dispose();
            _channels = new RedisReleaseChannels(value, _logger, _timeProvider);
        }
    }

    /// <summary>The decision so far: true (sharded), false (classic), null (not decided yet).</summary>
    public bool? Current => _channels.Current;

    /// <summary>The channel name the scripts publish on: the client's channel prefix and <paramref name="channel"/>.</summary>
    public RedisValue PublishChannel(string channel) => _connection.ChannelPrefix + channel;

    /// <summary>
    /// The scripts' publish flag: "1" (SPUBLISH) when the waiters of this connection subscribe to sharded channels, "0"
    /// (PUBLISH) otherwise. Decided once per connection; the same decision chooses the channels <see cref="SubscribeAsync"/> subscribes to.
    /// </summary>
    public async ValueTask<RedisValue> ShardedFlagAsync(string operation, CancellationToken cancellationToken)
    {
        var database = await _connection.GetDatabaseAsync(operation, cancellationToken).ConfigureAwait(false);
        return await _channels.IsShardedAsync(database.Multiplexer, _connection.ChannelPrefix, _connection.OperationTimeout, cancellationToken).ConfigureAwait(false)
            ? "1"
            : "0";
    }

    /// <summary>The flag <see cref="ShardedFlagAsync"/> would send, without waiting: "0" until decided (a clean-up's release).</summary>
    public RedisValue CurrentShardedFlag => _channels.Current == true ? "1" : "0";

    /// <summary>Subscribes <paramref name="onReleased"/> to <paramref name="channel"/> (sharded or classic, by the connection's decision).</summary>
    public async ValueTask<IAsyncDisposable> SubscribeAsync(string channel, Action onReleased, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onReleased);
        const string Operation = "subscribe";
        var subscriber = await _connection.GetSubscriberAsync(Operation, cancellationToken).ConfigureAwait(false);
        var sharded = await _channels.IsShardedAsync(subscriber.Multiplexer, _connection.ChannelPrefix, _connection.OperationTimeout, cancellationToken).ConfigureAwait(false);
        var subscribed = RedisReleaseChannels.Channel(channel, sharded); // the client adds its channel prefix to both kinds
        Action<RedisChannel, RedisValue> handler = (_, _) =>
        {
            try
            {
                onReleased();
            }
            catch
            {
                // A wake-up is a hint; polling stays the safety net.
            }
        };

        Task subscribing;
        try
        {
            subscribing = subscriber.SubscribeAsync(subscribed, handler, CommandFlags.None);
        }
        catch (Exception ex)
        {
            throw Failed(Operation, ex);
        }

        try
        {
            await _connection.WithTimeout(subscribing, Operation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The subscription may still complete later: make sure it does not stay behind.
            _ = subscribing.ContinueWith(
                _ => subscriber.UnsubscribeAsync(subscribed, handler, CommandFlags.FireAndForget),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            if (ex is OperationCanceledException or SessionStoreUnavailableException)
            {
                throw;
            }

            throw Failed(Operation, ex);
        }

        return new RedisReleaseSubscription(_connection, subscriber, subscribed, handler);
    }

    public void Dispose() => _channels.Dispose();

    private static SessionStoreUnavailableException Failed(string operation, Exception ex) =>
        new($"The session store's {operation} failed: Redis is unavailable ({ex.GetType().Name}: {ex.Message}).", ex) { Operation = operation };
}
