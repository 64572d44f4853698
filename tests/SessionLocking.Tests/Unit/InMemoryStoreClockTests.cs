using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Unit;

/// <summary>
/// Issue 17 item 6, the in-memory store's part: lock age, lock expiry and idle expiry are measured on the monotonic
/// timestamp of the <see cref="TimeProvider"/>, so a wall-clock step (NTP, a VM restored from a snapshot) neither lets a
/// second writer in nor expires every session at once, and time that really passes counts as before. On 005cd90 the
/// store used <c>GetUtcNow()</c>: after +3 h a second writer took a held lock, the holder's save was rejected and every
/// idle session was gone; after −3 h a lock's age read zero for three hours (never force-released) and idle sessions
/// lived three hours longer.
/// </summary>
public sealed class InMemoryStoreClockTests : IDisposable
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(110);
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromMinutes(20);

    private readonly ManualTimeProvider _time = new();
    private readonly InMemorySessionStateStore _store;

    public InMemoryStoreClockTests() => _store = new InMemorySessionStateStore(_time);

    public void Dispose() => _store.Dispose();

    [Theory]
    [InlineData(3)]
    [InlineData(-3)]
    [InlineData(24 * 400)]
    public async Task A_wall_clock_step_lets_no_second_writer_in_and_the_holder_still_saves(int hours)
    {
        var id = await StoredSessionAsync();
        var holder = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        _time.Advance(TimeSpan.FromSeconds(10));

        _time.StepWallClock(TimeSpan.FromHours(hours));
        var second = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        var reader = await _store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Locked, second.Status);
        Assert.Equal(holder.LockId, second.LockId);
        Assert.Equal(TimeSpan.FromSeconds(10), second.LockAge);
        Assert.Equal(SessionStoreStatus.Locked, reader.Status);
        Assert.True(await _store.WriteAndReleaseAsync(id, holder.LockId, Changes("after"), default));
        var loaded = await _store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Equal("after"u8.ToArray(), loaded.Data!.Items["k"]);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(-3)]
    public async Task A_wall_clock_step_expires_no_session_and_the_sweep_keeps_them(int hours)
    {
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await StoredSessionAsync());
        }

        _time.StepWallClock(TimeSpan.FromHours(hours));
        _time.Advance(TimeSpan.FromMinutes(1)); // the sweep runs

        Assert.Equal(5, _store.Count);
        foreach (var id in ids)
        {
            Assert.Equal(SessionStoreStatus.Found, (await _store.GetSharedAsync(id, default)).Status);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-3)]
    public async Task Time_that_passes_still_ages_locks_and_expires_them_and_idle_sessions(int hours)
    {
        var locked = await StoredSessionAsync();
        var idle = await StoredSessionAsync();
        var holder = await _store.GetExclusiveAsync(locked, LockTimeout, false, default);
        _time.StepWallClock(TimeSpan.FromHours(hours));

        _time.Advance(TimeSpan.FromSeconds(100));
        var waiting = await _store.GetExclusiveAsync(locked, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Locked, waiting.Status);
        Assert.Equal(TimeSpan.FromSeconds(100), waiting.LockAge);

        _time.Advance(TimeSpan.FromSeconds(10));
        var next = await _store.GetExclusiveAsync(locked, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Found, next.Status);
        Assert.NotEqual(holder.LockId, next.LockId);
        Assert.False(await _store.WriteAndReleaseAsync(locked, holder.LockId, Changes("stale"), default));
        Assert.True(await _store.ReleaseAsync(locked, next.LockId, default));

        _time.Advance(SessionTimeout - TimeSpan.FromSeconds(111));
        Assert.Equal(SessionStoreStatus.Found, (await _store.GetSharedAsync(idle, default)).Status); // read at 19:59: slides
        _time.Advance(SessionTimeout);
        Assert.Equal(SessionStoreStatus.NotFound, (await _store.GetSharedAsync(idle, default)).Status);
        Assert.Equal(SessionStoreStatus.NotFound, (await _store.GetSharedAsync(locked, default)).Status);
    }

    private async Task<string> StoredSessionAsync()
    {
        var id = SessionIds.Create();
        var created = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await _store.WriteAndReleaseAsync(id, created.LockId, Changes("before", isNew: true), default));
        return id;
    }

    private static SessionChanges Changes(string value, bool isNew = false) =>
        new(new Dictionary<string, byte[]> { ["k"] = System.Text.Encoding.UTF8.GetBytes(value) }, Array.Empty<string>(), SessionTimeout, isNew);
}
