using System.Reflection;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The version of the StackExchange.Redis package loaded at run time (2.7.27, 3.4.35), for logs. Its assembly version
/// is the same for a whole major version (2.0.0.0), so the package's informational version is read, without the
/// "+commit" suffix, falling back to the file version.
/// </summary>
internal static class RedisClientVersion
{
    /// <summary>The loaded client's package version.</summary>
    public static string Text { get; } = Of(typeof(IConnectionMultiplexer).Assembly);

    internal static string Of(Assembly assembly)
    {
        if (assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion is { Length: > 0 } informational)
        {
            var plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? informational : informational[..plus];
        }

        return assembly.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version
            ?? assembly.GetName().Version?.ToString()
            ?? "(unknown version)";
    }
}
