using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// A request script of the Redis store in its two compositions: with <c>redis.ends</c> (Session_End tracked, the call
/// brings the ends index and the ended key as KEYS[3] and KEYS[4]) and with <c>redis.ends_off</c> in its place (two
/// keys: no OnSessionEnd handler, so Redis builds none of the ends helpers on every call). The keys a call sends pick it.
/// </summary>
internal sealed class RequestScript
{
    /// <summary>The <see cref="LuaScript.Load"/> aliases of the untracked composition.</summary>
    public static readonly IReadOnlyDictionary<string, string> WithoutEnds = new Dictionary<string, string>(StringComparer.Ordinal) { ["redis.ends"] = "redis.ends_off" };

    /// <summary>The script <c>Scripts/<paramref name="name"/>.lua</c> for <paramref name="operation"/>, composed both ways.</summary>
    public RequestScript(string operation, string name)
    {
        Tracking = LuaScript.Load(operation, name);
        Untracked = LuaScript.Load(operation, name, WithoutEnds);
    }

    /// <summary>The store operation the script serves, as errors name it.</summary>
    public string Operation => Tracking.Operation;

    /// <summary>The composition with the ends helpers, for calls with the ends keys.</summary>
    public LuaScript Tracking { get; }

    /// <summary>The composition with the no-ops of <c>redis.ends_off</c>, for calls with the session's two keys.</summary>
    public LuaScript Untracked { get; }

    /// <summary>The composition for a call with <paramref name="keys"/>: tracking when they include the ends index (KEYS[3]).</summary>
    public LuaScript For(RedisKey[] keys) => keys.Length > 2 ? Tracking : Untracked;
}
