using System.Net;
using System.Reflection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>How the store publishes and subscribes to releases: <see cref="Auto"/> (the default) or classic pub/sub only.</summary>
internal enum ReleaseChannelChoice
{
    /// <summary>Sharded pub/sub (SPUBLISH/SSUBSCRIBE) where the server and the client have it, classic otherwise.</summary>
    Auto,

    /// <summary>Always PUBLISH/SUBSCRIBE (what the store did before sharded pub/sub; used by the benchmark as the baseline).</summary>
    Classic,
}

/// <summary>
/// Decides, once per connection (and again whenever the client restores a connection), whether releases go over
/// sharded pub/sub (Redis 7: <c>SPUBLISH</c> from the scripts, <c>SSUBSCRIBE</c> by the waiters) or classic pub/sub
/// (<c>PUBLISH</c>/<c>SUBSCRIBE</c>). In a Redis Cluster a classic <c>PUBLISH</c> is broadcast over the cluster bus to
/// every node; a sharded one stays on the shard that owns the channel's slot, which is the slot of the session's keys
/// (the channel carries the same hash tag).
/// </summary>
/// <remarks>
/// Sharded when all of these hold: the client can subscribe to sharded channels (<c>RedisChannel.Sharded</c>, which
/// StackExchange.Redis 2.7.27, the package's floor, lacks: it is looked up at run time so that an application on a
/// newer client gets it); the client's channel prefix has no <c>{</c> or <c>}</c> (it would move the channel to another
/// slot than the keys); and every connected primary lists <c>SPUBLISH</c> and <c>SSUBSCRIBE</c> in <c>COMMAND INFO</c>,
/// with <c>SPUBLISH</c> allowed in scripts (Garnet 2.2.12 lists it with the <c>noscript</c> flag). Anything else, an
/// error answer included (<c>COMMAND</c> renamed away), means classic. A failure without an answer (timeout, no
/// connection) means classic for that call and another try on the next.
/// </remarks>
internal sealed class RedisReleaseChannels : IDisposable
{
    private const int Unknown = -1;
    private const int Classic = 0;
    private const int Sharded = 1;

    /// <summary>How long after a failed detection (no answer) the next call tries again.</summary>
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    /// <summary><c>RedisChannel.Sharded(string)</c> of the client loaded at run time, or null when it has none.</summary>
    private static readonly Func<string, RedisChannel>? ShardedChannel = FindShardedChannelFactory();

    private readonly object _sync = new();
    private readonly ReleaseChannelChoice _choice;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private int _kind = Unknown;
    private Task<int>? _detecting;
    private long _retryAt;
    private IConnectionMultiplexer? _watched;
    private string _prefix = string.Empty;

    public RedisReleaseChannels(ReleaseChannelChoice choice, ILogger logger, TimeProvider timeProvider)
    {
        _choice = choice;
        _logger = logger;
        _timeProvider = timeProvider;
    }

    /// <summary>True when the StackExchange.Redis loaded at run time can subscribe to sharded channels.</summary>
    public static bool ClientSupportsSharded => ShardedChannel is not null;

    /// <summary>The decision so far: true (sharded), false (classic), null (not decided yet).</summary>
    public bool? Current => Volatile.Read(ref _kind) switch
    {
        Sharded => true,
        Classic => false,
        _ => null,
    };

    /// <summary>
    /// Whether releases go over sharded channels on <paramref name="multiplexer"/>: the decision made, or made now
    /// (one <c>COMMAND INFO</c> per primary, once), waiting at most <paramref name="limit"/>; classic when undecided.
    /// </summary>
    public async ValueTask<bool> IsShardedAsync(IConnectionMultiplexer multiplexer, string channelPrefix, TimeSpan limit, CancellationToken cancellationToken)
    {
        var kind = Volatile.Read(ref _kind);
        if (kind != Unknown && ReferenceEquals(Volatile.Read(ref _watched), multiplexer))
        {
            return kind == Sharded;
        }

        var detecting = Detect(multiplexer, channelPrefix, force: false);
        if (detecting is null)
        {
            return Volatile.Read(ref _kind) == Sharded;
        }

        try
        {
            return await detecting.WaitAsync(limit, _timeProvider, cancellationToken).ConfigureAwait(false) == Sharded;
        }
        catch (TimeoutException)
        {
            return Volatile.Read(ref _kind) == Sharded;
        }
    }

    /// <summary>The channel a waiter subscribes to: sharded or classic (literal), by the decision.</summary>
    public static RedisChannel Channel(string name, bool sharded) =>
        sharded && ShardedChannel is { } factory ? factory(name) : new RedisChannel(name, RedisChannel.PatternMode.Literal);

    public void Dispose()
    {
        IConnectionMultiplexer? watched;
        lock (_sync)
        {
            watched = _watched;
            _watched = null;
        }

        if (watched is not null)
        {
            watched.ConnectionRestored -= OnConnectionRestored;
        }
    }

    /// <summary>Starts (or joins) a detection; null when none is needed now (decided, or a failed one is waiting to retry).</summary>
    private Task<int>? Detect(IConnectionMultiplexer multiplexer, string channelPrefix, bool force)
    {
        lock (_sync)
        {
            if (!ReferenceEquals(_watched, multiplexer))
            {
                if (_watched is not null)
                {
                    _watched.ConnectionRestored -= OnConnectionRestored;
                }

                _watched = multiplexer;
                _kind = Unknown;
                _detecting = null;
                _retryAt = 0;
                multiplexer.ConnectionRestored += OnConnectionRestored;
                _prefix = channelPrefix;
            }

            if (_detecting is { IsCompleted: false } running)
            {
                return running;
            }

            if (!force && (_kind != Unknown || _timeProvider.GetTimestamp() < _retryAt))
            {
                return null;
            }

            _detecting = DetectAsync(multiplexer, channelPrefix);
            return _detecting;
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive || sender is not IConnectionMultiplexer multiplexer)
        {
            return;
        }

        // The server may have changed (restarted as another version, failed over): decide again, keeping the old
        // decision until the new one is known.
        string prefix;
        lock (_sync)
        {
            if (!ReferenceEquals(_watched, multiplexer))
            {
                return;
            }

            prefix = _prefix;
        }

        var detecting = Detect(multiplexer, prefix, force: true);
        if (detecting is not null)
        {
            _ = detecting.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task<int> DetectAsync(IConnectionMultiplexer multiplexer, string channelPrefix)
    {
        await Task.Yield();
        string? reason = null;
        var kind = Sharded;
        if (_choice == ReleaseChannelChoice.Classic)
        {
            (kind, reason) = (Classic, "the store is configured for classic pub/sub");
        }
        else if (ShardedChannel is null)
        {
            (kind, reason) = (Classic, "this StackExchange.Redis has no sharded channels (RedisChannel.Sharded)");
        }
        else if (channelPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            (kind, reason) = (Classic, "the client's channel prefix contains '{' or '}', which would put the channel in another cluster slot than the session's keys");
        }
        else
        {
            try
            {
                reason = await ServersLackShardedPubSubAsync(multiplexer).ConfigureAwait(false);
                if (reason is not null)
                {
                    kind = Classic;
                }
            }
            catch (Exception ex) when (ex is not RedisServerException)
            {
                // No answer: classic for now, another try after a while.
                lock (_sync)
                {
                    _retryAt = _timeProvider.GetTimestamp() + (long)(RetryAfter.TotalSeconds * _timeProvider.TimestampFrequency);
                }

                RedisStoreLog.ReleaseChannelsUndecided(_logger, ex);
                return Volatile.Read(ref _kind) == Sharded ? Sharded : Classic;
            }
            catch (RedisServerException ex)
            {
                (kind, reason) = (Classic, "the server refused COMMAND INFO (" + ex.Message + ")");
            }
        }

        var previous = Interlocked.Exchange(ref _kind, kind);
        if (previous != kind)
        {
            if (kind == Sharded)
            {
                RedisStoreLog.ReleaseChannelsSharded(_logger, RedisClientVersion.Text);
            }
            else
            {
                RedisStoreLog.ReleaseChannelsClassic(_logger, RedisClientVersion.Text, reason ?? "unknown");
            }
        }

        return kind;
    }

    /// <summary>Null when every connected primary has sharded pub/sub usable from scripts; otherwise why not.</summary>
    private static async Task<string?> ServersLackShardedPubSubAsync(IConnectionMultiplexer multiplexer)
    {
        var asked = new List<(EndPoint EndPoint, Task<RedisResult> Reply)>();
        foreach (var endpoint in multiplexer.GetEndPoints())
        {
            var server = multiplexer.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica || server.ServerType is not (ServerType.Standalone or ServerType.Cluster))
            {
                continue;
            }

            asked.Add((endpoint, server.ExecuteAsync("COMMAND", "INFO", "SPUBLISH", "SSUBSCRIBE")));
        }

        if (asked.Count == 0)
        {
            // StackExchange.Redis 3.x prefers a constructor with CommandFlags, which the 2.x floor lacks.
#pragma warning disable CS0618
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No connected primary to ask whether it has sharded pub/sub.");
#pragma warning restore CS0618
        }

        await Task.WhenAll(asked.Select(a => a.Reply)).ConfigureAwait(false);
        foreach (var (endpoint, reply) in asked)
        {
            if (WhyNotSharded(await reply.ConfigureAwait(false)) is { } why) // already complete: awaited above
            {
                return $"{endpoint}: {why}";
            }
        }

        return null;
    }

    /// <summary>Reads <c>COMMAND INFO SPUBLISH SSUBSCRIBE</c>: null when both exist and SPUBLISH may run in scripts.</summary>
    internal static string? WhyNotSharded(RedisResult reply)
    {
        if (reply.IsNull || reply.Resp2Type != ResultType.Array)
        {
            return "COMMAND INFO gave no list";
        }

        var entries = (RedisResult[])reply!;
        if (entries.Length < 2 || entries[0].IsNull || entries[1].IsNull)
        {
            return "no SPUBLISH/SSUBSCRIBE (sharded pub/sub needs Redis 7.0 or later)";
        }

        var publish = (RedisResult[])entries[0]!;
        if (publish.Length > 2 && publish[2].Resp2Type == ResultType.Array)
        {
            foreach (var flag in (RedisResult[])publish[2]!)
            {
                if (string.Equals((string?)flag, "noscript", StringComparison.OrdinalIgnoreCase))
                {
                    return "SPUBLISH is not allowed in scripts (flag noscript)";
                }
            }
        }

        return null;
    }

    private static Func<string, RedisChannel>? FindShardedChannelFactory()
    {
        var method = typeof(RedisChannel).GetMethod("Sharded", BindingFlags.Public | BindingFlags.Static, binder: null, [typeof(string)], modifiers: null);
        return method is not null && method.ReturnType == typeof(RedisChannel)
            ? method.CreateDelegate<Func<string, RedisChannel>>()
            : null;
    }
}
