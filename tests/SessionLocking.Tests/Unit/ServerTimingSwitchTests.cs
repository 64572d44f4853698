using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using SessionLocking.Diagnostics;

namespace SessionLocking.Tests.Unit;

/// <summary>When the Server-Timing header is on: the option, else Development only.</summary>
public class ServerTimingSwitchTests
{
    [Theory]
    [InlineData(null, "Development", true)]
    [InlineData(null, "Production", false)]
    [InlineData(null, "Staging", false)]
    [InlineData(true, "Production", true)]
    [InlineData(false, "Development", false)]
    public void The_option_decides_and_unset_means_Development_only(bool? option, string environment, bool on)
    {
        var options = new LockedSessionOptions { ServerTiming = option };

        Assert.Equal(on, SessionServerTiming.IsOn(options, new Environment(environment)));
    }

    [Fact]
    public void Without_a_host_environment_it_is_off_unless_the_option_says_so()
    {
        Assert.False(SessionServerTiming.IsOn(new LockedSessionOptions(), null));
        Assert.True(SessionServerTiming.IsOn(new LockedSessionOptions { ServerTiming = true }, null));
    }

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;

        public string ApplicationName { get; set; } = "tests";

        public string ContentRootPath { get; set; } = "/";

        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
