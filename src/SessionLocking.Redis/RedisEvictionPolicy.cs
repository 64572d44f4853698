using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// Reads the server's <c>maxmemory-policy</c> for the start-up eviction warning. <c>INFO memory</c> first (field
/// <c>maxmemory_policy</c>): Redis lets any client run INFO, also from a script, so this needs no admin mode.
/// <c>CONFIG GET</c> is the fallback, for servers whose INFO lacks the field: StackExchange.Redis 3.x refuses CONFIG
/// without <c>allowAdmin</c>, and many managed services rename or disable it. Garnet answers neither (its INFO has no such field, its CONFIG GET nothing).
/// </summary>
internal static class RedisEvictionPolicy
{
    private const CommandFlags ToPrimary = CommandFlags.DemandMaster;
    private const string InfoMemoryScript = "return redis.call('INFO', 'memory')";

    /// <summary>The policy, or null with why it could not be read (one line, for the log).</summary>
    public static async Task<(string? Policy, string? Unknown)> ReadAsync(IDatabase database, RedisConnection connection)
    {
        string infoFailure;
        try
        {
            // Through a script: StackExchange.Redis counts INFO as an admin command (IServer.Info always, and
            // IDatabase.Execute from 3.x on) and refuses it without allowAdmin, although Redis itself asks nothing more.
            var info = (string?)await connection.WithTimeout(
                database.ScriptEvaluateAsync(InfoMemoryScript, flags: ToPrimary),
                "eviction check",
                CancellationToken.None).ConfigureAwait(false);
            if (FromInfo(info) is { } policy)
            {
                return (policy, null);
            }

            infoFailure = "INFO memory has no maxmemory_policy";
        }
        catch (Exception ex)
        {
            infoFailure = "INFO memory failed: " + OneLine(ex);
        }

        try
        {
            var reply = await connection.WithTimeout(
                database.ExecuteAsync("CONFIG", new object[] { "GET", "maxmemory-policy" }, ToPrimary),
                "eviction check",
                CancellationToken.None).ConfigureAwait(false);
            var pair = reply.Resp2Type == ResultType.Array ? (RedisResult[])reply! : [];
            return pair.Length >= 2 && (string?)pair[1] is { Length: > 0 } policy
                ? (policy, null)
                : (null, infoFailure + "; CONFIG GET maxmemory-policy gave no value");
        }
        catch (Exception ex)
        {
            return (null, infoFailure + "; CONFIG GET failed: " + OneLine(ex));
        }
    }

    /// <summary>The <c>maxmemory_policy</c> field of an INFO reply, or null.</summary>
    internal static string? FromInfo(string? info)
    {
        const string Field = "maxmemory_policy:";
        foreach (var line in (info ?? string.Empty).AsSpan().EnumerateLines())
        {
            if (line.StartsWith(Field, StringComparison.Ordinal) && line[Field.Length..].Trim() is { Length: > 0 } value)
            {
                return value.ToString();
            }
        }

        return null;
    }

    private static string OneLine(Exception ex)
    {
        var message = ex.Message.AsSpan();
        var end = message.IndexOfAny('\r', '\n');
        return $"{ex.GetType().Name}: {(end < 0 ? message : message[..end]).ToString()}";
    }
}
