using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SessionLocking.Tests.Contract;

/// <summary>
/// The store contract (<see cref="ISessionStateStore"/> and, where a store has it, <see cref="ISessionReleaseNotifications"/>),
/// rule by rule, through the interfaces only. One suite, run against every store; a new store adds a subclass that
/// says how to register it (see docs/writing-a-store.md). Stores are resolved from the container as the middleware
/// resolves them.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromMinutes(20);
    private ServiceProvider _services = null!;

    protected ISessionStateStore Store { get; private set; } = null!;

    /// <summary>The store's release notifications, or null when it has none.</summary>
    protected ISessionReleaseNotifications? Notifications { get; private set; }

    /// <summary>Registers the store under test.</summary>
    protected abstract void ConfigureStore(ILockedSessionBuilder builder);

    public Task InitializeAsync()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        ConfigureStore(services.AddLockedSession());
        _services = services.BuildServiceProvider();
        Store = _services.GetRequiredService<ISessionStateStore>();
        Notifications = _services.GetService<ISessionReleaseNotifications>();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task An_exclusive_get_of_a_missing_session_without_create_takes_nothing()
    {
        var id = SessionIds.Create();

        var result = await Store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);

        Assert.Equal(SessionStoreStatus.NotFound, result.Status);
        Assert.False(result.HasLock);
        Assert.Equal(SessionStoreStatus.NotFound, (await Store.GetExclusiveAsync(id, LockTimeout, false, default)).Status);
        Assert.False((await Store.GetExclusiveAsync(id, LockTimeout, false, default)).HasLock);
    }

    [Fact]
    public async Task A_missing_session_locked_with_create_makes_others_wait_and_stays_missing_when_released()
    {
        var id = SessionIds.Create();

        var mine = await Store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        var other = await Store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        var reader = await Store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.NotFound, mine.Status);
        Assert.True(mine.HasLock);
        Assert.Equal(SessionStoreStatus.Locked, other.Status);
        Assert.Equal(mine.LockId, other.LockId);
        Assert.Equal(SessionStoreStatus.Locked, reader.Status);
        Assert.Equal(mine.LockId, reader.LockId);
        Assert.True(await Store.ReleaseAsync(id, mine.LockId, default));
        Assert.Equal(SessionStoreStatus.NotFound, (await Store.GetSharedAsync(id, default)).Status);
        Assert.Equal(SessionStoreStatus.NotFound, (await Store.GetExclusiveAsync(id, LockTimeout, false, default)).Status);
    }

    [Fact]
    public async Task A_write_back_stores_the_items_byte_for_byte_and_the_timeout_and_releases()
    {
        var id = SessionIds.Create();
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        var value = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        Assert.True(await Store.WriteAndReleaseAsync(id, taken.LockId, Changes(set: new() { ["Bytes"] = value, ["empty"] = [] }, timeout: TimeSpan.FromMinutes(7), isNew: true), default));
        var loaded = await Store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.False(loaded.HasLock);
        Assert.Equal(value, loaded.Data!.Items["Bytes"]);
        Assert.Equal(value, loaded.Data.Items["bytes"]);
        Assert.Empty(loaded.Data.Items["empty"]);
        Assert.Equal(TimeSpan.FromMinutes(7), loaded.Data.Timeout);
        var again = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Found, again.Status);
        Assert.True(again.HasLock);
        Assert.True(await Store.ReleaseAsync(id, again.LockId, default));
    }

    [Fact]
    public async Task A_session_written_with_no_items_exists()
    {
        var id = SessionIds.Create();
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, true, default);

        Assert.True(await Store.WriteAndReleaseAsync(id, taken.LockId, Changes(isNew: true), default));

        var loaded = await Store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Empty(loaded.Data!.Items);
    }

    [Fact]
    public async Task A_write_back_removes_then_sets_and_keeps_what_it_does_not_name()
    {
        var id = await StoredAsync(new() { ["keep"] = [1], ["drop"] = [2], ["change"] = [3], ["Respelled"] = [4] });
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.True(await Store.WriteAndReleaseAsync(id, taken.LockId,
            Changes(set: new() { ["change"] = [30], ["added"] = [5], ["respelled"] = [40] }, removed: ["drop", "Respelled"]), default));

        var items = (await Store.GetSharedAsync(id, default)).Data!.Items;
        Assert.Equal(["added", "change", "keep", "respelled"], items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([1], items["keep"]);
        Assert.Equal([30], items["change"]);
        Assert.Equal([40], items["respelled"]);
    }

    /// <summary>More changes than one Lua <c>unpack</c> call takes (stores send them in chunks): every one is applied.</summary>
    [Fact]
    public async Task A_write_back_of_thousands_of_changes_applies_every_one()
    {
        var id = await StoredAsync(Enumerable.Range(0, 1500).ToDictionary(i => $"old{i}", i => new byte[] { (byte)i }));
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        var set = Enumerable.Range(0, 1700).ToDictionary(i => $"new{i}", i => new byte[] { (byte)(i % 251), 7 });
        var removed = Enumerable.Range(0, 1200).Select(i => $"old{i}").ToArray();

        Assert.True(await Store.WriteAndReleaseAsync(id, taken.LockId, Changes(set: set, removed: removed), default));

        var items = (await Store.GetSharedAsync(id, default)).Data!.Items;
        Assert.Equal(300 + 1700, items.Count);
        Assert.All(Enumerable.Range(1200, 300), i => Assert.Equal([(byte)i], items[$"old{i}"]));
        Assert.All(Enumerable.Range(0, 1700), i => Assert.Equal([(byte)(i % 251), 7], items[$"new{i}"]));
    }

    [Fact]
    public async Task Write_back_release_and_remove_with_a_lock_that_is_not_current_change_nothing()
    {
        var id = await StoredAsync(new() { ["a"] = [1] });
        var stale = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(await Store.ForceReleaseAsync(id, stale.LockId, default));
        var current = await Store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.False(await Store.WriteAndReleaseAsync(id, stale.LockId, Changes(set: new() { ["a"] = [9] }), default));
        Assert.False(await Store.ReleaseAsync(id, stale.LockId, default));
        Assert.False(await Store.RemoveAsync(id, stale.LockId, default));

        Assert.Equal(current.LockId, (await Store.GetSharedAsync(id, default)).LockId);
        Assert.True(await Store.ReleaseAsync(id, current.LockId, default));
        Assert.Equal([1], (await Store.GetSharedAsync(id, default)).Data!.Items["a"]);
    }

    /// <summary>How the store names a holder that gave <paramref name="endpoint"/> (a store that cannot record it says so otherwise).</summary>
    protected virtual string? ExpectedHolder(string? endpoint) => endpoint;

    [Fact]
    public async Task The_lock_names_its_holders_endpoint_to_exclusive_and_shared_gets_bounded_and_forgets_it_on_release()
    {
        var id = await StoredAsync(new() { ["a"] = [1] });
        var holder = await Store.GetExclusiveAsync(id, LockTimeout, false, "/reports/{id}", default);

        var exclusive = await Store.GetExclusiveAsync(id, LockTimeout, false, "/other", default);
        var shared = await Store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Locked, exclusive.Status);
        Assert.Equal(ExpectedHolder("/reports/{id}"), exclusive.HolderEndpoint);
        Assert.Equal(ExpectedHolder("/reports/{id}"), shared.HolderEndpoint);
        Assert.True(await Store.ReleaseAsync(id, holder.LockId, default));

        // A long name is cut to the bound; a lock taken without one names nobody.
        var longName = "/" + new string('x', 300);
        var second = await Store.GetExclusiveAsync(id, LockTimeout, false, longName, default);
        var seen = (await Store.GetSharedAsync(id, default)).HolderEndpoint;
        Assert.True(await Store.ReleaseAsync(id, second.LockId, default));
        var third = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        var unnamed = (await Store.GetSharedAsync(id, default)).HolderEndpoint;
        Assert.True(await Store.ReleaseAsync(id, third.LockId, default));
        Assert.Equal(ExpectedHolder(longName[..SessionStoreResult.MaxHolderEndpointLength]), seen);
        Assert.Equal(ExpectedHolder(null), unnamed);
    }

    [Fact]
    public async Task Force_release_releases_only_the_named_holder()
    {
        var id = await StoredAsync(new() { ["a"] = [1] });
        var holder = await Store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.False(await Store.ForceReleaseAsync(id, new SessionLockId(holder.LockId.Token + 1), default));
        Assert.False(await Store.ForceReleaseAsync(id, new SessionLockId(holder.LockId.Token - 1), default));
        Assert.Equal(holder.LockId, (await Store.GetSharedAsync(id, default)).LockId);
        Assert.True(await Store.ForceReleaseAsync(id, holder.LockId, default));
        Assert.False(await Store.ForceReleaseAsync(id, holder.LockId, default));
        Assert.Equal(SessionStoreStatus.Found, (await Store.GetSharedAsync(id, default)).Status);

        // That holder's lock is gone; a newer holder's stays.
        var next = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Found, next.Status);
        Assert.False(await Store.ForceReleaseAsync(id, holder.LockId, default));
        Assert.Equal(next.LockId, (await Store.GetSharedAsync(id, default)).LockId);
        Assert.True(await Store.ReleaseAsync(id, next.LockId, default));
    }

    [Fact]
    public async Task Lock_ids_only_grow_across_release_remove_recreate_and_force_release()
    {
        var id = SessionIds.Create();
        var tokens = new List<long>();
        var first = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        tokens.Add(first.LockId.Token);
        Assert.True(await Store.WriteAndReleaseAsync(id, first.LockId, Changes(set: new() { ["a"] = [1] }, isNew: true), default));
        var second = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        tokens.Add(second.LockId.Token);
        Assert.True(await Store.ForceReleaseAsync(id, second.LockId, default));
        var third = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        tokens.Add(third.LockId.Token);
        Assert.True(await Store.RemoveAsync(id, third.LockId, default));
        var fourth = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        tokens.Add(fourth.LockId.Token);
        Assert.True(await Store.ReleaseAsync(id, fourth.LockId, default));
        var fifth = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        tokens.Add(fifth.LockId.Token);

        Assert.All(tokens, t => Assert.True(t > 0));
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
        Assert.False(await Store.WriteAndReleaseAsync(id, first.LockId, Changes(isNew: true), default));
        Assert.True(await Store.ReleaseAsync(id, fifth.LockId, default));
    }

    [Fact]
    public async Task The_holders_lock_age_grows_and_a_lock_lives_only_for_its_lock_timeout()
    {
        var id = await StoredAsync(new() { ["a"] = [1] });
        var crashed = await Store.GetExclusiveAsync(id, TimeSpan.FromMilliseconds(1500), false, default);
        await Task.Delay(300);

        var seen = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Locked, seen.Status);
        Assert.Equal(crashed.LockId, seen.LockId);
        Assert.InRange(seen.LockAge, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));

        // The holder never comes back: its lock expires by its time to live, and the session is whole.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        SessionStoreResult next;
        do
        {
            await Task.Delay(100);
            next = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
        }
        while (next.Status == SessionStoreStatus.Locked && DateTime.UtcNow < deadline);

        Assert.Equal(SessionStoreStatus.Found, next.Status);
        Assert.Equal([1], next.Data!.Items["a"]);
        Assert.True(next.LockId.Token > crashed.LockId.Token);
        Assert.False(await Store.WriteAndReleaseAsync(id, crashed.LockId, Changes(set: new() { ["a"] = [9] }), default));
        Assert.True(await Store.ReleaseAsync(id, next.LockId, default));
        Assert.Equal([1], (await Store.GetSharedAsync(id, default)).Data!.Items["a"]);
    }

    [Fact]
    public async Task Remove_deletes_the_session_and_keep_alive_of_a_missing_session_creates_nothing()
    {
        var id = await StoredAsync(new() { ["a"] = [1] });
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.True(await Store.RemoveAsync(id, taken.LockId, default));
        await Store.KeepAliveAsync(id, default);

        Assert.Equal(SessionStoreStatus.NotFound, (await Store.GetSharedAsync(id, default)).Status);
        Assert.Equal(SessionStoreStatus.NotFound, (await Store.GetExclusiveAsync(id, LockTimeout, false, default)).Status);
    }

    [Fact]
    public async Task Release_notifications_reach_subscribers_for_every_kind_of_release()
    {
        if (Notifications is null)
        {
            Assert.IsNotAssignableFrom<ISessionReleaseNotifications>(Store);
            return;
        }

        var id = await StoredAsync(new() { ["a"] = [1] });
        var other = SessionIds.Create();
        var heard = 0;
        var heardOther = 0;
        await using (await Notifications.SubscribeAsync(id, () => Interlocked.Increment(ref heard), default))
        await using (await Notifications.SubscribeAsync(other, () => Interlocked.Increment(ref heardOther), default))
        {
            var a = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
            Assert.True(await Store.ReleaseAsync(id, a.LockId, default));
            await Until(() => Volatile.Read(ref heard) >= 1);
            var b = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
            Assert.True(await Store.WriteAndReleaseAsync(id, b.LockId, Changes(set: new() { ["a"] = [2] }), default));
            await Until(() => Volatile.Read(ref heard) >= 2);
            var c = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
            Assert.True(await Store.ForceReleaseAsync(id, c.LockId, default));
            await Until(() => Volatile.Read(ref heard) >= 3);
            var d = await Store.GetExclusiveAsync(id, LockTimeout, false, default);
            Assert.True(await Store.RemoveAsync(id, d.LockId, default));
            await Until(() => Volatile.Read(ref heard) >= 4);

            // A rejected release publishes nothing.
            Assert.False(await Store.ReleaseAsync(id, d.LockId, default));
            Assert.False(await Store.ForceReleaseAsync(id, d.LockId, default));
        }

        // Unsubscribed: a release is no longer heard.
        var e = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await Store.ReleaseAsync(id, e.LockId, default));
        await Task.Delay(200);
        Assert.Equal(4, Volatile.Read(ref heard));
        Assert.Equal(0, Volatile.Read(ref heardOther));
    }

    [Fact]
    public async Task A_call_with_a_cancelled_token_throws_operation_canceled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await Store.GetExclusiveAsync(SessionIds.Create(), LockTimeout, true, cancelled.Token));
    }

    /// <summary>When a lock-taking call is cancelled: before it is sent, or from another thread while it runs (moments swept by spinning).</summary>
    public static TheoryData<string> CancelMoments => new() { { "before the call" }, { "as the call is made" }, { "while the call is on its way" }, { "around the answer" } };

    /// <summary>
    /// No lock left behind: a lock-taking call that is cancelled (or throws) leaves no lock. Either it returns (its
    /// caller holds the lock, and releases it here) or it throws, and then the session is free at once: the next
    /// exclusive get takes it long before the lock's time to live would have ended it. Stores that give up on a call
    /// release whatever it took as soon as their server answers (docs/writing-a-store.md).
    /// </summary>
    [Theory]
    [MemberData(nameof(CancelMoments))]
    public async Task A_lock_taking_call_that_is_cancelled_leaves_no_lock(string moment)
    {
        var longLock = TimeSpan.FromMinutes(5);
        var stored = await StoredAsync(new() { ["a"] = [1] });
        int returned = 0, thrown = 0;
        for (var i = 0; i < 40; i++)
        {
            // Half the calls on a stored session, half creating a new one.
            var id = i % 2 == 0 ? stored : SessionIds.Create();
            using var cancel = new CancellationTokenSource();
            var spins = moment switch
            {
                "as the call is made" => 0,
                "while the call is on its way" => 1 << (i % 12),
                "around the answer" => 4096 << (i % 8),
                _ => -1,
            };
            if (spins < 0)
            {
                await cancel.CancelAsync();
            }

            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var canceller = spins < 0 ? Task.CompletedTask : Task.Run(async () =>
            {
                await start.Task;
                Thread.SpinWait(spins);
                await cancel.CancelAsync();
            });
            try
            {
                var call = Store.GetExclusiveAsync(id, longLock, createIfMissing: true, cancel.Token);
                start.TrySetResult();
                var taken = await call;
                returned++;
                Assert.NotEqual(SessionStoreStatus.Locked, taken.Status);
                Assert.True(await Store.ReleaseAsync(id, taken.LockId, default), "the caller that got the answer owns the lock");
            }
            catch (OperationCanceledException)
            {
                thrown++;
            }
            finally
            {
                start.TrySetResult();
                await canceller;
            }

            await FreeWithinAsync(id, TimeSpan.FromSeconds(10), $"{moment}, call {i}");
        }

        Assert.Equal(40, returned + thrown);
        if (moment == "before the call")
        {
            Assert.Equal(40, thrown);
        }
    }

    /// <summary>The session's lock is free (an exclusive get takes it) within <paramref name="bound"/>; the lock it takes is released.</summary>
    private async Task FreeWithinAsync(string id, TimeSpan bound, string what)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var next = await Store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
            if (next.Status != SessionStoreStatus.Locked)
            {
                Assert.True(await Store.ReleaseAsync(id, next.LockId, default));
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{what}: the session was still locked ({next.LockId}, {next.LockAge.TotalSeconds:0.0} s old) {bound.TotalSeconds:0} s after the call was cancelled: the lock was left for its time to live");
            await Task.Delay(20);
        }
    }

    private async Task<string> StoredAsync(Dictionary<string, byte[]> items)
    {
        var id = SessionIds.Create();
        var taken = await Store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await Store.WriteAndReleaseAsync(id, taken.LockId, Changes(set: items, isNew: true), default));
        return id;
    }

    private static SessionChanges Changes(Dictionary<string, byte[]>? set = null, string[]? removed = null, TimeSpan? timeout = null, bool isNew = false) =>
        new(set ?? new Dictionary<string, byte[]>(), removed ?? [], timeout ?? SessionTimeout, isNew);

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "no release notification within 10 s");
            await Task.Delay(5);
        }
    }
}
