using System.Text.RegularExpressions;
using SessionLocking.Redis;
using SessionLocking.Redis.Legacy;
using LuaScript = SessionLocking.Redis.Scripting.LuaScript;

namespace SessionLocking.Tests.Redis;

/// <summary>The Lua files as the script runner composes them: every include resolved, each shared helper once, parameters named.</summary>
public sealed class LuaScriptCompositionTests
{
    public static TheoryData<string, string> Scripts()
    {
        var data = new TheoryData<string, string>
        {
            { "redis.acquire", RedisSessionStateStore.AcquireScript },
            { "redis.shared", RedisSessionStateStore.SharedScript },
            { "redis.release", RedisSessionStateStore.ReleaseScript },
            { "redis.force_release", RedisSessionStateStore.ForceReleaseScript },
            { "redis.keep_alive", RedisSessionStateStore.KeepAliveScript },
        };
        foreach (var (layout, scripts) in new[] { ("v5", LegacyScripts.V5), ("v4", LegacyScripts.V4) })
        {
            var i = 0;
            foreach (var script in scripts.All)
            {
                data.Add($"legacy.{layout}.{i++}.{script.Operation}", script.Text);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Every_include_is_resolved_and_each_shared_helper_appears_once(string name, string text)
    {
        Assert.DoesNotContain("--! include", text, StringComparison.Ordinal);
        // At most once: a script that calls neither loses them (LuaUnusedHelpersTests).
        Assert.InRange(Count(text, "local function num(v)"), 0, 1);
        Assert.InRange(Count(text, "local function publish(channel, message, sharded)"), 0, 1);
        Assert.True(Count(text, "local lock_key = KEYS[") == 1, $"{name}: the keys are named once");
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Arguments_are_read_only_into_named_locals(string name, string text)
    {
        // Outside the shared hash_changes (which walks the trailing pairs), ARGV appears only as `local x = ARGV[n]…`
        // and `local y = n + tonumber(ARGV[n])`: a script never reads a positional argument in its logic.
        foreach (Match match in Regex.Matches(text, @"^.*ARGV\[.*$", RegexOptions.Multiline))
        {
            var line = match.Value.Trim();
            if (line.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.True(
                line.StartsWith("local ", StringComparison.Ordinal) || line.Contains("unpack(ARGV", StringComparison.Ordinal),
                $"{name}: '{line}' reads ARGV outside a named local");
        }
    }

    [Fact]
    public void A_layout_is_composed_into_the_legacy_scripts_by_its_alias()
    {
        Assert.Contains("local layout = 'string'", LegacyScripts.V5.Acquire.Text, StringComparison.Ordinal);
        Assert.Contains("local layout = 'hash'", LegacyScripts.V4.Acquire.Text, StringComparison.Ordinal);
        Assert.NotEqual(LegacyScripts.V5.Acquire.Hash, LegacyScripts.V4.Acquire.Hash);
    }

    [Fact]
    public void A_missing_resource_fails_naming_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LuaScript.Load("nothing", "redis.no_such_script"));
        Assert.Contains("Scripts/redis.no_such_script.lua", error.Message, StringComparison.Ordinal);
    }

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;
}
