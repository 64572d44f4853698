using System.Text;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// The Lua files embedded in the assembly (<c>Scripts/*.lua</c>) and their composition: a line
/// <c>--! include name</c> is replaced by the text of <c>Scripts/name.lua</c>, once per script (a second include of
/// the same file is dropped), so shared helpers and guards are written once and every script still reaches Redis
/// whole, as one text with one SHA1. The composed text then loses the helpers it never calls (<see cref="UnusedHelpers"/>).
/// </summary>
internal static class LuaLibrary
{
    private const string Include = "--! include ";

    /// <summary>The composed text of <c>Scripts/<paramref name="name"/>.lua</c>, without the helpers it does not use.</summary>
    public static string Compose(string name, IReadOnlyDictionary<string, string>? aliases = null) =>
        UnusedHelpers.Drop(name, ComposeAll(name, aliases));

    /// <summary>The composed text with every included helper, used or not (for tests).</summary>
    public static string ComposeAll(string name, IReadOnlyDictionary<string, string>? aliases = null)
    {
        var text = new StringBuilder();
        Append(text, name, aliases, new HashSet<string>(StringComparer.Ordinal));
        return text.ToString();
    }

    /// <summary>The text of one resource as it is stored (no includes resolved).</summary>
    public static string Read(string name)
    {
        var resource = "Scripts/" + name + ".lua";
        using var stream = typeof(LuaLibrary).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The Lua script resource '{resource}' is missing from {typeof(LuaLibrary).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static void Append(StringBuilder text, string name, IReadOnlyDictionary<string, string>? aliases, HashSet<string> included)
    {
        if (aliases is not null && aliases.TryGetValue(name, out var alias))
        {
            name = alias;
        }

        if (!included.Add(name))
        {
            return;
        }

        foreach (var line in Read(name).Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith(Include, StringComparison.Ordinal))
            {
                Append(text, trimmed[Include.Length..].Trim(), aliases, included);
            }
            else
            {
                text.Append(trimmed).Append('\n');
            }
        }
    }
}
