using SessionLocking.Redis.Scripting;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// <c>lua-script --name redis.shared [--ends off]</c>: prints a script's text as this build composes it (includes
/// resolved, unused helpers dropped; with <c>--ends off</c> as the store sends it without an OnSessionEnd handler,
/// <c>redis.ends_off</c> in place of <c>redis.ends</c>), to load into a redis-server of one's own and time with
/// <c>redis-benchmark … EVALSHA</c> and <c>INFO commandstats</c>: the A/B probe for a script's Redis CPU
/// (docs/redis-protocol.md, "The script runner").
/// </summary>
internal static class LuaScriptText
{
    public static int Run(string name, bool endsOff)
    {
        Console.Write(endsOff ? LuaLibrary.Compose(name, RequestScript.WithoutEnds) : LuaLibrary.Compose(name));
        return 0;
    }
}
