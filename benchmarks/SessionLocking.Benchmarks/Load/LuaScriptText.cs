using SessionLocking.Redis.Scripting;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// <c>lua-script --name redis.shared</c>: prints a script's text as this build composes it (includes resolved, unused
/// helpers dropped), to load into a redis-server of one's own and time with <c>redis-benchmark … EVALSHA</c> and
/// <c>INFO commandstats</c>: the A/B probe for a script's Redis CPU (docs/redis-protocol.md, "The script runner").
/// </summary>
internal static class LuaScriptText
{
    public static int Run(string name)
    {
        Console.Write(LuaLibrary.Compose(name));
        return 0;
    }
}
