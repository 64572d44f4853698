namespace SessionLocking.Tests.Redis;

/// <summary>
/// An xunit class fixture around a launcher of SessionLocking.TestUtilities (which does not depend on xunit, so the
/// benchmark program can use it too): started before the class's first test, stopped after its last.
/// </summary>
public abstract class ServerFixture<TServer>(Func<Task<TServer>> start) : IAsyncLifetime
    where TServer : class, IAsyncDisposable
{
    private TServer? _server;

    protected TServer Started => _server ?? throw new InvalidOperationException($"The {GetType().Name} did not start.");

    public async Task InitializeAsync() => _server = await start();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>What a test of the Redis store needs of a fixture: how the store connects, and every server to inspect.</summary>
public interface IRedisDeployment
{
    /// <summary>The StackExchange.Redis configuration string of the deployment.</summary>
    string Configuration { get; }

    /// <summary>Every server of the deployment (one, or each node of a cluster), to read keys behind the store's back.</summary>
    IReadOnlyList<RedisServer> Servers { get; }
}

/// <summary>One redis-server per test class.</summary>
public sealed class RedisFixture() : ServerFixture<RedisServer>(() => RedisServer.StartAsync()), IRedisDeployment
{
    public RedisServer Server => Started;

    public string Configuration => Server.Configuration;

    public IReadOnlyList<RedisServer> Servers => [Server];
}

/// <summary>One Garnet server per test class.</summary>
public sealed class GarnetFixture() : ServerFixture<RedisServer>(() => RedisServer.StartGarnetAsync()), IRedisDeployment
{
    public RedisServer Server => Started;

    public string Configuration => Server.Configuration;

    public IReadOnlyList<RedisServer> Servers => [Server];
}

/// <summary>One Garnet server per test class, started without <c>--lua-transaction-mode true</c>: its scripts are not atomic.</summary>
public sealed class NonAtomicGarnetFixture() : ServerFixture<RedisServer>(() => RedisServer.StartGarnetAsync(luaTransactionMode: false))
{
    public RedisServer Server => Started;

    public string Configuration => Server.Configuration;
}
