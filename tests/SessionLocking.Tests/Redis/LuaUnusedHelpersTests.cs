using System.Text.RegularExpressions;
using SessionLocking.Redis;
using SessionLocking.Redis.Legacy;
using SessionLocking.Redis.Scripting;
using LuaScript = SessionLocking.Redis.Scripting.LuaScript;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Composition drops the helpers a script never calls (Lua builds a closure for each <c>local function</c> on every
/// call): what the scripts send to Redis defines only what they use, and keeps everything they do use.
/// </summary>
public sealed class LuaUnusedHelpersTests
{
    public static TheoryData<string, string> Loaded()
    {
        var data = new TheoryData<string, string>();
        // Both compositions of the request scripts (Session_End tracked and not), then the ends scripts.
        var n = 0;
        foreach (var script in RedisSessionStateStore.Scripts)
        {
            data.Add($"redis.{n++}.{script.Operation}", script.Text);
        }

        foreach (var (layout, scripts) in new[] { ("v5", LegacyScripts.V5), ("v4", LegacyScripts.V4) })
        {
            var i = 0;
            foreach (var script in scripts.All)
            {
                data.Add($"legacy.{layout}.{i++}.{script.Operation}", script.Text);
            }
        }

        data.Add("probe.atomicity", LuaScript.Load("atomicity probe", "probe.atomicity").Text);
        return data;
    }

    [Theory]
    [MemberData(nameof(Loaded))]
    public void Every_defined_helper_is_used(string name, string text)
    {
        // Counted independently of the pruner: comment lines and trailing comments aside, a used helper's name occurs
        // at least twice (its definition and a call).
        var code = string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)).Select(l => Regex.Replace(l, @"\s--\s.*$", string.Empty)));
        var defined = Regex.Matches(code, @"^local function ([A-Za-z_][A-Za-z0-9_]*)\(", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        foreach (var helper in defined)
        {
            var uses = Regex.Matches(code, $@"(?<![A-Za-z0-9_]){helper}(?![A-Za-z0-9_])").Count;
            Assert.True(uses >= 2, $"{name}: '{helper}' is defined but never used");
        }
    }

    [Fact]
    public void The_read_only_load_lost_the_helpers_it_does_not_call_and_kept_those_it_calls_through_others()
    {
        var all = UnusedHelpers.Defined("redis.shared", LuaLibrary.ComposeAll("redis.shared"));
        var kept = UnusedHelpers.Defined("redis.shared", RedisSessionStateStore.SharedScript);
        Assert.Contains("unlock", all);
        Assert.DoesNotContain("unlock", kept);
        Assert.DoesNotContain("publish", kept); // used only by unlock
        Assert.DoesNotContain("holds", kept);
        Assert.DoesNotContain("slide", kept);
        Assert.DoesNotContain("read_session", kept);
        Assert.DoesNotContain("int", kept);

        // session_record is called only by load_session / check_cached_session, num only by session_record and read_lock.
        Assert.Contains("session_record", kept);
        Assert.Contains("num", kept);
        Assert.Equal(all.Count - 6, kept.Count);
    }

    [Fact]
    public void A_helper_used_only_through_another_is_kept_and_one_used_only_by_a_dropped_helper_goes()
    {
        const string Text = """
            -- helpers
            local function leaf(x) return x + 1 end
            local function middle(x)
              return leaf(x) * 2
            end
            local function orphan_leaf() return 1 end
            local function orphan()
              -- calls middle( in a comment only
              return orphan_leaf()
            end
            local k = 'orphan' -- a string names it: kept (references are not parsed, only matched)
            return middle(ARGV[1])

            """;
        var kept = UnusedHelpers.Drop("test", Text);
        Assert.Contains("local function leaf(x)", kept, StringComparison.Ordinal);
        Assert.Contains("local function middle(x)", kept, StringComparison.Ordinal);
        Assert.Contains("local function orphan()", kept, StringComparison.Ordinal);
        Assert.Contains("local function orphan_leaf()", kept, StringComparison.Ordinal);

        var dropped = UnusedHelpers.Drop("test", Text.Replace("local k = 'orphan' -- a string names it: kept (references are not parsed, only matched)\n", string.Empty, StringComparison.Ordinal));
        Assert.Equal(
            """
            -- helpers
            local function leaf(x) return x + 1 end
            local function middle(x)
              return leaf(x) * 2
            end
            return middle(ARGV[1])

            """,
            dropped);
    }

    [Fact]
    public void A_script_that_uses_every_helper_is_unchanged()
    {
        const string Text = "-- a\nlocal function a(x) return x end\nlocal function b(x)\n  return a(x)\nend\nlocal n = 1\nreturn b(n)\n";
        Assert.Equal(Text, UnusedHelpers.Drop("test", Text));
    }

    [Fact]
    public void A_helper_whose_end_cannot_be_found_fails_the_composition_naming_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => UnusedHelpers.Drop("test", "local function f(x)\n  if x then return 1\nend\nreturn f(1)\n".Replace("\nend\n", "\n  end\n", StringComparison.Ordinal)));
        Assert.Contains("Scripts/test.lua", error.Message, StringComparison.Ordinal);
        Assert.Contains("local function f(x)", error.Message, StringComparison.Ordinal);
    }
}
