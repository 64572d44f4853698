using StackExchange.Redis;

namespace MvcApp.Services;

/// <summary>
/// The classic "users online" count, kept by <c>OnSessionStart</c> (+1) and <c>OnSessionEnd</c> (-1, on timeout and on
/// Abandon): in this process's memory, or in Redis when the sample runs as a farm on Redis (a session may start on one
/// server and end on another, so a per-server number would drift; <c>INCRBY</c> keeps one number for the farm).
/// </summary>
public sealed class UsersOnline(IServiceProvider services)
{
    private const string Key = "MvcApp:users-online";
    private readonly IConnectionMultiplexer? _redis = services.GetService<IConnectionMultiplexer>();
    private long _count;

    public Task StartedAsync() => AddAsync(1);

    public Task EndedAsync() => AddAsync(-1);

    public async Task<long> CountAsync() =>
        _redis is null ? Interlocked.Read(ref _count) : (long)await _redis.GetDatabase().StringGetAsync(Key);

    private async Task AddAsync(long delta)
    {
        if (_redis is null)
        {
            Interlocked.Add(ref _count, delta);
        }
        else
        {
            await _redis.GetDatabase().StringIncrementAsync(Key, delta);
        }
    }
}
