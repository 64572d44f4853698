using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>Session_End on Garnet (its Lua has what the scripts need: TIME, sorted sets, RENAME).</summary>
public sealed class GarnetSessionEndTests : IClassFixture<GarnetFixture>
{
    private readonly GarnetFixture _garnet;
    private readonly string _prefix = "gends-" + Guid.NewGuid().ToString("N")[..8];
    private readonly SessionEndRecorder _ends = new();

    public GarnetSessionEndTests(GarnetFixture garnet) => _garnet = garnet;

    [Fact]
    public async Task Three_servers_on_garnet_raise_every_end_once_with_its_items_by_abandon_and_by_timeout() =>
        await SessionEndFarm.RaisesEveryEndOnceAsync(_garnet.Configuration, _prefix, _ends, 300);
}
