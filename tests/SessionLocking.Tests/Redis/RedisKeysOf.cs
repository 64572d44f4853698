namespace SessionLocking.Tests.Redis;

/// <summary>Reads the Redis store's keys behind its back, on one server or every node of a cluster.</summary>
internal static class RedisKeysOf
{
    /// <summary>The session ids of every key under <c>{prefix:</c> on the given servers (all nodes of a cluster).</summary>
    public static async Task<IReadOnlyCollection<string>> SessionIdsAsync(IEnumerable<RedisServer> servers, string prefix)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var start = "{" + prefix + ":";
        foreach (var server in servers)
        {
            using var client = await server.ConnectAsync();
            foreach (var key in await client.KeysAsync(start + "*"))
            {
                var end = key.IndexOf('}', start.Length);
                ids.Add(end < 0 ? key : key[start.Length..end]);
            }
        }

        return ids;
    }

    /// <summary>Every key matching <paramref name="pattern"/> on the given servers.</summary>
    public static async Task<IReadOnlyList<string>> KeysAsync(IEnumerable<RedisServer> servers, string pattern)
    {
        var keys = new List<string>();
        foreach (var server in servers)
        {
            using var client = await server.ConnectAsync();
            keys.AddRange(await client.KeysAsync(pattern));
        }

        return keys;
    }

    /// <summary>
    /// A connection to the server that holds <paramref name="hashTag"/>'s slot: on a cluster the node that has a key
    /// of it (the others answer MOVED); otherwise the only server.
    /// </summary>
    public static async Task<RespClient> ConnectToOwnerAsync(IReadOnlyList<RedisServer> servers, string hashTag)
    {
        if (servers.Count == 1)
        {
            return await servers[0].ConnectAsync();
        }

        foreach (var server in servers)
        {
            var client = await server.ConnectAsync();
            if ((await client.KeysAsync(hashTag + "*")).Length > 0)
            {
                return client;
            }

            client.Dispose();
        }

        throw new InvalidOperationException($"No server holds a key of {hashTag}.");
    }
}
