using System.Security.Cryptography;
using System.Text;

namespace SessionLocking.Redis.Scripting;

/// <summary>A script as Redis runs it: the operation it serves (in errors and logs), its composed text and that text's SHA1 (what EVALSHA sends).</summary>
internal sealed class LuaScript
{
    private LuaScript(string operation, string text)
    {
        Operation = operation;
        Text = text;
        Hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The store operation the script serves, as errors name it ("acquire", "write-back" …).</summary>
    public string Operation { get; }

    /// <summary>The text sent with EVAL: the resource with its includes composed in.</summary>
    public string Text { get; }

    /// <summary>The SHA1 of <see cref="Text"/>, sent with EVALSHA.</summary>
    public byte[] Hash { get; }

    /// <summary>
    /// The embedded script <c>Scripts/<paramref name="name"/>.lua</c> with its <c>--! include</c> lines replaced by
    /// the named resources (each at most once); <paramref name="aliases"/> maps an included name to another
    /// (the legacy store's <c>legacy.layout</c> to <c>legacy.v5</c> or <c>legacy.v4</c>).
    /// </summary>
    public static LuaScript Load(string operation, string name, IReadOnlyDictionary<string, string>? aliases = null) =>
        new(operation, LuaLibrary.Compose(name, aliases));
}
