using SessionLocking.Redis.Scripting;

namespace SessionLocking.Redis;

/// <summary>The store's scripts: <c>Scripts/redis.*.lua</c>, each with its parameters named at the top (docs/redis-protocol.md).</summary>
internal sealed partial class RedisSessionStateStore
{
    private static readonly RequestScript Acquire = new("acquire", "redis.acquire");
    private static readonly RequestScript Shared = new("read-only load", "redis.shared");
    private static readonly RequestScript WriteAndRelease = new("write-back", "redis.write_and_release");
    private static readonly RequestScript Release = new("release", "redis.release");
    private static readonly RequestScript Remove = new("remove", "redis.remove");
    private static readonly RequestScript ForceRelease = new("force-release", "redis.force_release");
    private static readonly RequestScript ReleaseOwner = new("release-by-owner", "redis.release_owner");
    private static readonly RequestScript KeepAlive = new("keep-alive", "redis.keep_alive");

    private static readonly LuaScript Abandon = LuaScript.Load("abandon", "redis.abandon");
    private static readonly LuaScript DueEnds = LuaScript.Load("due-ends", "redis.due_ends");
    private static readonly LuaScript ClaimEnd = LuaScript.Load("claim-end", "redis.claim_end");
    private static readonly LuaScript CompleteEnd = LuaScript.Load("complete-end", "redis.complete_end");

    /// <summary>The request scripts, each composed with and without the ends helpers (<see cref="RequestScript"/>).</summary>
    private static readonly RequestScript[] Requests = [Acquire, Shared, WriteAndRelease, Release, Remove, ForceRelease, ReleaseOwner, KeepAlive];

    /// <summary>All of them, both compositions of the request scripts, preloaded on every primary.</summary>
    private static readonly LuaScript[] All = [.. Requests.Select(static s => s.Tracking), .. Requests.Select(static s => s.Untracked), Abandon, DueEnds, ClaimEnd, CompleteEnd];

    /// <summary>All of them (for tests).</summary>
    internal static IReadOnlyList<LuaScript> Scripts => All;

    /// <summary>The request scripts in both compositions (for tests).</summary>
    internal static IReadOnlyList<RequestScript> RequestScripts => Requests;

    /// <summary>The acquire's composed text, ends tracked (for tests).</summary>
    internal static string AcquireScript => Acquire.Tracking.Text;

    /// <summary>The read-only load's composed text, ends tracked (for tests).</summary>
    internal static string SharedScript => Shared.Tracking.Text;

    /// <summary>The release's composed text, ends tracked (for tests).</summary>
    internal static string ReleaseScript => Release.Tracking.Text;

    /// <summary>The force-release's composed text, ends tracked (for tests).</summary>
    internal static string ForceReleaseScript => ForceRelease.Tracking.Text;

    /// <summary>The keep-alive's composed text, ends tracked (for tests).</summary>
    internal static string KeepAliveScript => KeepAlive.Tracking.Text;
}
