using Microsoft.Extensions.DependencyInjection;

namespace SessionLocking;

/// <summary>Returned by <c>AddLockedSession</c>; store registrations such as <c>AddRedisStore</c> hang off it.</summary>
public interface ILockedSessionBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}
