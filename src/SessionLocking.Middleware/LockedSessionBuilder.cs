using Microsoft.Extensions.DependencyInjection;

namespace SessionLocking;

internal sealed class LockedSessionBuilder : ILockedSessionBuilder
{
    public LockedSessionBuilder(IServiceCollection services) => Services = services;

    public IServiceCollection Services { get; }
}
