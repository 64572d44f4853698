using SessionLocking.Redis.Scripting;

namespace SessionLocking.Redis;

/// <summary>The store's scripts: <c>Scripts/redis.*.lua</c>, each with its parameters named at the top (docs/redis-protocol.md).</summary>
internal sealed partial class RedisSessionStateStore
{
    private static readonly LuaScript Acquire = LuaScript.Load("acquire", "redis.acquire");
    private static readonly LuaScript Shared = LuaScript.Load("read-only load", "redis.shared");
    private static readonly LuaScript WriteAndRelease = LuaScript.Load("write-back", "redis.write_and_release");
    private static readonly LuaScript Release = LuaScript.Load("release", "redis.release");
    private static readonly LuaScript Remove = LuaScript.Load("remove", "redis.remove");
    private static readonly LuaScript ForceRelease = LuaScript.Load("force-release", "redis.force_release");
    private static readonly LuaScript ReleaseOwner = LuaScript.Load("release-by-owner", "redis.release_owner");
    private static readonly LuaScript KeepAlive = LuaScript.Load("keep-alive", "redis.keep_alive");

    private static readonly LuaScript Abandon = LuaScript.Load("abandon", "redis.abandon");
    private static readonly LuaScript DueEnds = LuaScript.Load("due-ends", "redis.due_ends");
    private static readonly LuaScript ClaimEnd = LuaScript.Load("claim-end", "redis.claim_end");
    private static readonly LuaScript CompleteEnd = LuaScript.Load("complete-end", "redis.complete_end");

    /// <summary>All of them, preloaded on every primary.</summary>
    private static readonly LuaScript[] All = [Acquire, Shared, WriteAndRelease, Release, Remove, ForceRelease, ReleaseOwner, KeepAlive, Abandon, DueEnds, ClaimEnd, CompleteEnd];

    /// <summary>All of them (for tests).</summary>
    internal static IReadOnlyList<LuaScript> Scripts => All;

    /// <summary>The acquire's composed text (for tests).</summary>
    internal static string AcquireScript => Acquire.Text;

    /// <summary>The read-only load's composed text (for tests).</summary>
    internal static string SharedScript => Shared.Text;

    /// <summary>The release's composed text (for tests).</summary>
    internal static string ReleaseScript => Release.Text;

    /// <summary>The force-release's composed text (for tests).</summary>
    internal static string ForceReleaseScript => ForceRelease.Text;

    /// <summary>The keep-alive's composed text (for tests).</summary>
    internal static string KeepAliveScript => KeepAlive.Text;
}
