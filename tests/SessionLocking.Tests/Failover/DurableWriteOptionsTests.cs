using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Failover;

/// <summary>The durable-write options: off by default, bound from configuration, invalid values fail start-up with a message.</summary>
public sealed class DurableWriteOptionsTests
{
    [Fact]
    public void Durable_writes_are_off_by_default_and_bind_from_SessionState_Redis()
    {
        Assert.Equal(0, new RedisSessionStoreOptions().MinReplicasAcknowledged);
        Assert.Equal(TimeSpan.FromSeconds(1), new RedisSessionStoreOptions().ReplicaAckTimeout);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SessionState:Mode"] = "Redis",
            ["SessionState:Redis:Configuration"] = "127.0.0.1:26379,127.0.0.1:26380,serviceName=mymaster",
            ["SessionState:Redis:MinReplicasAcknowledged"] = "1",
            ["SessionState:Redis:ReplicaAckTimeout"] = "00:00:00.250",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddLockedSession().AddRedisStoreMode();
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value;

        Assert.Equal(1, options.MinReplicasAcknowledged);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.ReplicaAckTimeout);
        Assert.Equal("127.0.0.1:26379,127.0.0.1:26380,serviceName=mymaster", options.Configuration);
    }

    [Theory]
    [InlineData(-1, 1000, "MinReplicasAcknowledged must be 0 (off) or more")]
    [InlineData(1, 0, "ReplicaAckTimeout must be greater than 0")]
    [InlineData(1, 5000, "ReplicaAckTimeout must be greater than 0 and shorter than OperationTimeout")]
    public void Invalid_durable_write_settings_fail_validation_saying_what_to_set(int replicas, int timeoutMs, string expected)
    {
        var validator = new RedisOptionsValidator([new RedisStoreRegistration(false)]);

        var result = validator.Validate(null, new RedisSessionStoreOptions
        {
            Configuration = "127.0.0.1:26379,serviceName=mymaster",
            MinReplicasAcknowledged = replicas,
            ReplicaAckTimeout = TimeSpan.FromMilliseconds(timeoutMs),
            OperationTimeout = TimeSpan.FromSeconds(5),
        });

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sentinel_configuration_with_durable_writes_is_valid()
    {
        var validator = new RedisOptionsValidator([new RedisStoreRegistration(false)]);

        var result = validator.Validate(null, new RedisSessionStoreOptions
        {
            Configuration = "127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381,serviceName=mymaster",
            MinReplicasAcknowledged = 1,
        });

        Assert.True(result.Succeeded, result.FailureMessage);
    }
}
