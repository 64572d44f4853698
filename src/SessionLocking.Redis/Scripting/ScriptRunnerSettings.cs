using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>What differs between the stores that share <see cref="RedisScriptRunner"/>: the names their messages point to, durable writes, how a corrupt record is reported.</summary>
internal sealed class ScriptRunnerSettings
{
    /// <summary>The store's options type, as messages name it (<c>RedisSessionStoreOptions</c>).</summary>
    public required string OptionsName { get; init; }

    /// <summary>The store's configuration section, as messages name it (<c>SessionState:Redis</c>).</summary>
    public required string ConfigurationSection { get; init; }

    /// <summary>Replicas that must acknowledge a durable write (<c>WAIT</c>); 0: no <c>WAIT</c>.</summary>
    public int MinReplicasAcknowledged { get; init; }

    /// <summary>The timeout of the <c>WAIT</c>.</summary>
    public TimeSpan ReplicaAckTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The exception (logged by the store) for a script's error answer <c>SESSIONCORRUPT what|dropped</c>: operation,
    /// session id, what is corrupt, what the script dropped, the server's answer.
    /// </summary>
    public required Func<string, string, string, string, RedisServerException, SessionStoreCorruptException> Corrupt { get; init; }
}
