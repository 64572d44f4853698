using System.Text;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Reads, independently of the client under test, who is subscribed to a session's release channel and what the
/// servers published: <c>PUBSUB NUMSUB</c> (classic), <c>PUBSUB SHARDNUMSUB</c> (sharded), the cluster bus counters of
/// <c>CLUSTER INFO</c> and the PUBLISH/SPUBLISH counts of <c>INFO commandstats</c>.
/// </summary>
internal static class ShardedPubSubProbe
{
    /// <summary>The channel of a session as the scripts publish it (client channel prefix first).</summary>
    public static string Channel(string prefix, string sessionId, string channelPrefix = "") => $"{channelPrefix}{{{prefix}:{sessionId}}}:released";

    /// <summary>Classic subscribers of <paramref name="channel"/> on one server.</summary>
    public static Task<long> ClassicSubscribersAsync(RedisServer server, string channel) => CountAsync(server, "NUMSUB", channel);

    /// <summary>Sharded subscribers of <paramref name="channel"/> on one server (0 on a node that does not own its slot).</summary>
    public static Task<long> ShardedSubscribersAsync(RedisServer server, string channel) => CountAsync(server, "SHARDNUMSUB", channel);

    /// <summary>The node that holds the keys of a session (it owns the slot of the session's hash tag, and of its channel).</summary>
    public static async Task<RedisServer> OwnerAsync(IReadOnlyList<RedisServer> nodes, string prefix, string sessionId)
    {
        var owners = new List<RedisServer>();
        foreach (var node in nodes)
        {
            using var client = await node.ConnectAsync();
            if ((await client.KeysAsync($"{{{prefix}:{sessionId}}}*")).Length > 0)
            {
                owners.Add(node);
            }
        }

        return Assert.Single(owners);
    }

    /// <summary>The cluster bus counters of publish messages (classic and sharded), sent and received, of one node.</summary>
    public static async Task<Dictionary<string, long>> BusCountersAsync(RedisServer node)
    {
        using var client = await node.ConnectAsync();
        var info = await client.StringAsync("CLUSTER", "INFO") ?? string.Empty;
        var counters = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["publish_sent"] = 0,
            ["publish_received"] = 0,
            ["publishshard_sent"] = 0,
            ["publishshard_received"] = 0,
        };
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            const string Start = "cluster_stats_messages_";
            var colon = line.IndexOf(':');
            if (line.StartsWith(Start, StringComparison.Ordinal) && colon > 0 && counters.ContainsKey(line[Start.Length..colon]))
            {
                counters[line[Start.Length..colon]] = long.Parse(line[(colon + 1)..]);
            }
        }

        return counters;
    }

    /// <summary>How often PUBLISH and SPUBLISH ran on one server (also from scripts).</summary>
    public static async Task<(long Publish, long ShardPublish)> PublishCallsAsync(RedisServer server)
    {
        using var client = await server.ConnectAsync();
        var stats = await client.CommandStatsAsync();
        return (stats.GetValueOrDefault("publish"), stats.GetValueOrDefault("spublish"));
    }

    private static async Task<long> CountAsync(RedisServer server, string subcommand, string channel)
    {
        using var client = await server.ConnectAsync();
        var reply = (object?[])(await client.CommandAsync("PUBSUB", subcommand, channel))!;
        Assert.Equal(channel, Encoding.UTF8.GetString((byte[])reply[0]!));
        return (long)reply[1]!;
    }
}
