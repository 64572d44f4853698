#if HAS_REDIS_STORE
using Microsoft.Extensions.DependencyInjection;
#endif

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// The Redis store is built on another branch. This project compiles with or without it: the csproj defines
/// HAS_REDIS_STORE when src/ contains it, and the Redis scenarios report "not run" otherwise.
/// </summary>
internal static class RedisSupport
{
#if HAS_REDIS_STORE
    public const bool Available = true;
#else
    public const bool Available = false;
#endif

    public const string NotMerged = "not run: Redis store not merged yet";

    public static void AddStore(ILockedSessionBuilder builder, string configuration)
    {
#if HAS_REDIS_STORE
        builder.AddRedisStore(configuration);
#else
        _ = builder;
        throw new InvalidOperationException($"{NotMerged} (cannot use Redis at {configuration}).");
#endif
    }
}
