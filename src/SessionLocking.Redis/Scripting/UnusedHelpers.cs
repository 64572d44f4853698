using System.Text;
using System.Text.RegularExpressions;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// Drops from a composed script the top-level helpers it never calls. Lua builds a closure for every
/// <c>local function</c> each time a script runs, so a shared prologue's unused helpers cost Redis CPU on every call.
/// A helper is a block from a line starting <c>local function NAME(</c> to the first following line that is exactly
/// <c>end</c> (its body indented), or that one line when it ends in <c>end</c> and the next line is not indented;
/// it goes when NAME appears (as a whole word, comments aside) nowhere else in the script, repeatedly, so a helper
/// used only by a dropped one goes too. Comments and every other line stay.
/// </summary>
internal static class UnusedHelpers
{
    private const string Header = "local function ";

    /// <summary>The script <paramref name="text"/> (composed from <paramref name="name"/>) without its unused helpers.</summary>
    public static string Drop(string name, string text)
    {
        var lines = text.Split('\n');
        var code = lines.Select(WithoutComment).ToArray();
        var helpers = Helpers(name, lines);
        var dropped = new bool[lines.Length];
        bool changed;
        do
        {
            changed = false;
            foreach (var helper in helpers)
            {
                if (!dropped[helper.First] && !Used(helper, code, dropped))
                {
                    for (var i = helper.First; i <= helper.Last; i++)
                    {
                        dropped[i] = true;
                    }

                    changed = true;
                }
            }
        }
        while (changed);

        var kept = new StringBuilder(text.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            if (!dropped[i])
            {
                kept.Append(lines[i]);
                if (i < lines.Length - 1)
                {
                    kept.Append('\n');
                }
            }
        }

        return kept.ToString();
    }

    /// <summary>The names of the top-level helpers <paramref name="text"/> defines (for tests).</summary>
    public static IReadOnlyList<string> Defined(string name, string text) => [.. Helpers(name, text.Split('\n')).Select(h => h.Name)];

    private static List<(string Name, int First, int Last)> Helpers(string script, string[] lines)
    {
        var helpers = new List<(string Name, int First, int Last)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith(Header, StringComparison.Ordinal))
            {
                continue;
            }

            var open = lines[i].IndexOf('(', StringComparison.Ordinal);
            if (open < 0)
            {
                throw Shape(script, lines[i], "no parameter list");
            }

            var helperName = lines[i][Header.Length..open].Trim();
            var indented = i + 1 < lines.Length && lines[i + 1].Length > 0 && char.IsWhiteSpace(lines[i + 1][0]);
            if (!indented)
            {
                if (!WithoutComment(lines[i]).TrimEnd().EndsWith(" end", StringComparison.Ordinal))
                {
                    throw Shape(script, lines[i], "a one-line helper must end in 'end', a longer one must have its body indented");
                }

                helpers.Add((helperName, i, i));
                continue;
            }

            var last = i + 1;
            while (last < lines.Length && lines[last] != "end")
            {
                if (lines[last].Length > 0 && !char.IsWhiteSpace(lines[last][0]))
                {
                    throw Shape(script, lines[i], $"its body has the unindented line '{lines[last]}' before its closing 'end'");
                }

                last++;
            }

            if (last == lines.Length)
            {
                throw Shape(script, lines[i], "no line 'end' closes it");
            }

            helpers.Add((helperName, i, last));
            i = last;
        }

        return helpers;
    }

    private static bool Used((string Name, int First, int Last) helper, string[] code, bool[] dropped)
    {
        var word = new Regex(@"(?<![A-Za-z0-9_])" + Regex.Escape(helper.Name) + "(?![A-Za-z0-9_])", RegexOptions.CultureInvariant);
        for (var i = 0; i < code.Length; i++)
        {
            if (!dropped[i] && (i < helper.First || i > helper.Last) && word.IsMatch(code[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The line up to a <c>--</c> comment outside a quoted string. Our scripts use no long brackets (<c>[[ ]]</c>);
    /// a reference this misses would drop a helper still called, which fails the script loudly in every test that runs it.
    /// </summary>
    private static string WithoutComment(string line)
    {
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == '-' && i + 1 < line.Length && line[i + 1] == '-')
            {
                return line[..i];
            }
        }

        return line;
    }

    private static InvalidOperationException Shape(string script, string line, string why) =>
        new($"Scripts/{script}.lua: cannot tell where the helper '{line.Trim()}' ends ({why}).");
}
