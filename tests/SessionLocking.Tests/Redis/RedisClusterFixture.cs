namespace SessionLocking.Tests.Redis;

/// <summary>One local three-master Redis Cluster (<see cref="RedisCluster"/>) per test class.</summary>
public sealed class RedisClusterFixture() : ServerFixture<RedisCluster>(RedisCluster.StartAsync), IRedisDeployment
{
    public IReadOnlyList<RedisServer> Nodes => Started.Nodes;

    IReadOnlyList<RedisServer> IRedisDeployment.Servers => Nodes;

    /// <summary>All three nodes, as a StackExchange.Redis configuration string.</summary>
    public string Configuration => Started.Configuration;
}
