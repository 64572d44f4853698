using SessionLocking.Redis.Scripting;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The Lua scripts of <see cref="LegacyRedisSessionStateStore"/> (<c>Scripts/legacy.*.lua</c>), one set per key layout:
/// the same files, composed with the layout's helpers (<c>legacy.v5</c> or <c>legacy.v4</c>) in place of
/// <c>legacy.layout</c>. Every script gets KEYS[1] the lock, KEYS[2] the data, KEYS[3] the timeout key, all under the
/// hash tag <c>{app_id}</c>, and ARGV[1] the default session timeout in seconds; the rest is named at each file's top.
/// </summary>
internal sealed class LegacyScripts
{
    /// <summary>The scripts of the V5 layout (strings).</summary>
    public static readonly LegacyScripts V5 = new("legacy.v5");

    /// <summary>The scripts of the V4 layout (hashes).</summary>
    public static readonly LegacyScripts V4 = new("legacy.v4");

    private LegacyScripts(string layout)
    {
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal) { ["legacy.layout"] = layout };
        Acquire = LuaScript.Load("acquire", "legacy.acquire", aliases);
        Shared = LuaScript.Load("read-only load", "legacy.shared", aliases);
        Fetch = LuaScript.Load("write-back", "legacy.fetch", aliases);
        CommitV5 = LuaScript.Load("write-back", "legacy.commit_v5", aliases);
        CommitV4 = LuaScript.Load("write-back", "legacy.commit_v4", aliases);
        Release = LuaScript.Load("release", "legacy.release", aliases);
        Remove = LuaScript.Load("remove", "legacy.remove", aliases);
        ForceRelease = LuaScript.Load("force-release", "legacy.force_release", aliases);
        KeepAlive = LuaScript.Load("keep-alive", "legacy.keep_alive", aliases);
        All = [Acquire, Shared, Fetch, CommitV5, CommitV4, Release, Remove, ForceRelease, KeepAlive];
    }

    public LuaScript Acquire { get; }

    public LuaScript Shared { get; }

    public LuaScript Fetch { get; }

    public LuaScript CommitV5 { get; }

    public LuaScript CommitV4 { get; }

    public LuaScript Release { get; }

    public LuaScript Remove { get; }

    public LuaScript ForceRelease { get; }

    public LuaScript KeepAlive { get; }

    /// <summary>All of them, preloaded on every primary.</summary>
    public IReadOnlyCollection<LuaScript> All { get; }
}
