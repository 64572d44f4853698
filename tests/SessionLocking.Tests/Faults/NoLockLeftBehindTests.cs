using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Locking;
using SessionLocking.Redis;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Legacy;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Issue 17 item 4, "no lock left behind when the client leaves at the wrong moment", on every store. On 005cd90 the
/// coordinator handed an abandoned acquire to the releaser only when the store call had not completed yet: when the
/// store answered between the client's leaving and that check, the lock was owned by nobody and stayed for its time
/// to live (110 s). A failure between the store's answer and the lock's owner (a throwing metrics listener or logger)
/// dropped the lock the same way. The stress test races the client's cancellation against the store's answer on two
/// threads, at the very moment the store has taken the lock, and counts the locks left in the store: zero is the bar.
/// The races spin two threads at once, so the suites run alone (<see cref="SerialFaults"/>).
/// </summary>
public abstract class NoLockLeftBehindTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly List<ServiceProvider> _services = new();

    /// <summary>Races per run: each one a fresh session, half of them taken from the wait loop.</summary>
    protected abstract int Iterations { get; }

    protected abstract void ConfigureStore(ILockedSessionBuilder builder);

    /// <summary>The sessions the store (as its own data shows, not through the contract) holds a lock for now.</summary>
    protected abstract Task<IReadOnlyCollection<string>> LockedInStoreAsync(IServiceProvider services);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var services in _services)
        {
            await services.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_client_leaving_at_the_moment_the_store_answers_leaves_no_lock()
    {
        var services = Build();
        var store = services.GetRequiredService<RacingStore>();
        var locks = services.GetRequiredService<SessionLockCoordinator>();
        var ids = new List<string>(Iterations);
        int acquired = 0, cancelled = 0;

        for (var i = 0; i < Iterations; i++)
        {
            var id = SessionIds.Create();
            ids.Add(id);

            // Every other race is on the wait loop's store call: a holder on this server lets the acquire go by its release.
            var holder = i % 2 == 1 ? await locks.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default) : null;
            var call = store.ArmNextExclusive();
            using var leaving = new CancellationTokenSource();
            var acquire = locks.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, leaving.Token).AsTask();
            if (holder is not null)
            {
                await SpinUntilAsync(() => locks.WaitingCount(id) == 1, "the acquire queued behind the holder");
                await holder.DisposeAsync();
            }

            await call.Entered.WaitAsync(Patience);
            await RaceAsync(i % 2 == 0, leaving.Cancel, call.Answer, Stagger(i));
            try
            {
                await using var taken = await acquire.WaitAsync(Patience);
                Assert.True(taken.StoreResult.HasLock);
                acquired++;
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }
        }

        await FaultKit.Until(() => locks.AbandonedCallsWatched == 0, Patience, "the releaser finished");
        var reported = new List<string>();
        foreach (var id in ids)
        {
            if ((await store.Inner.GetSharedAsync(id, default)).Status == SessionStoreStatus.Locked)
            {
                reported.Add(id);
            }
        }

        var inStore = await LockedInStoreAsync(services);
        output.WriteLine($"{Iterations} races: {acquired} acquired, {cancelled} cancelled; locks left: {reported.Count} reported by the store, {inStore.Count} in its data");
        Assert.True(reported.Count == 0, $"{reported.Count} of {Iterations} races left a lock the store reports ({acquired} acquired, {cancelled} cancelled)");
        Assert.True(inStore.Count == 0, $"{inStore.Count} of {Iterations} races left a lock in the store's data");
    }

    public static TheoryData<string> FailurePoints => new()
    {
        { "store call duration metric" },
        { "lock acquired metric" },
        { "acquired after wait log" },
    };

    [Theory]
    [MemberData(nameof(FailurePoints))]
    public async Task A_failure_after_the_store_took_the_lock_leaves_no_lock(string failurePoint)
    {
        var failing = new FailingTelemetry(failurePoint);
        var services = Build(failing);
        var locks = services.GetRequiredService<SessionLockCoordinator>();
        var id = SessionIds.Create();
        var waits = failurePoint == "acquired after wait log";
        var holder = waits ? await locks.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default) : null;

        failing.Armed = true;
        var acquire = locks.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default).AsTask();
        if (holder is not null)
        {
            await SpinUntilAsync(() => locks.WaitingCount(id) == 1, "the acquire queued behind the holder");
            await holder.DisposeAsync();
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => acquire.WaitAsync(Patience));
        failing.Armed = false;
        output.WriteLine($"{failurePoint}: {error.GetType().Name}: {error.Message}");
        Assert.True(failing.Thrown > 0, "the failure point was never reached");

        await FaultKit.Until(() => locks.AbandonedCallsWatched == 0, Patience, "the releaser finished");
        Assert.Empty(await LockedInStoreAsync(services));
        using var quick = new CancellationTokenSource(Patience);
        await using var next = await locks.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, quick.Token);
        Assert.Equal(AcquireStatus.Acquired, next.Status);
        Assert.Equal(TimeSpan.Zero, next.Waited);
        Assert.True(next.StoreResult.HasLock);
    }

    private ServiceProvider Build(FailingTelemetry? failing = null)
    {
        var services = new ServiceCollection().AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Debug);
            if (failing is not null)
            {
                b.AddProvider(failing);
            }
        });
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        ConfigureStore(services.AddLockedSession(o =>
        {
            o.PollInterval = TimeSpan.FromMinutes(10);
            o.LockWaitTimeout = Patience;
        }));

        // Decorate as an application would: wrap whatever ISessionStateStore registration is there.
        var original = services.Last(d => d.ServiceType == typeof(ISessionStateStore));
        services.Remove(original);
        services.AddSingleton(sp => new RacingStore(Resolve(original, sp)));
        services.AddSingleton<ISessionStateStore>(sp => sp.GetRequiredService<RacingStore>());
        var provider = services.BuildServiceProvider();
        _services.Add(provider);
        failing?.Listen(provider.GetRequiredService<IMeterFactory>());
        return provider;
    }

    private static ISessionStateStore Resolve(ServiceDescriptor descriptor, IServiceProvider services) =>
        descriptor.ImplementationInstance as ISessionStateStore
        ?? (ISessionStateStore?)descriptor.ImplementationFactory?.Invoke(services)
        ?? (ISessionStateStore)ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!);

    /// <summary>
    /// How far the answer lags the cancellation in race <paramref name="i"/> (spin iterations; negative: it leads). The
    /// dangerous window is a few hundred nanoseconds wide and where it lies depends on the machine, so the races sweep
    /// a range of offsets around "at the same instant" rather than trusting the scheduler to find it.
    /// </summary>
    private static int Stagger(int i) => (i / 2 % 41 - 20) * 4;

    /// <summary>
    /// Runs <paramref name="cancel"/> and <paramref name="answer"/> at the same instant on two threads (both spin until
    /// both are ready, then go), the answer <paramref name="stagger"/> spin iterations later (earlier when negative).
    /// <paramref name="swap"/> swaps which runs on this thread.
    /// </summary>
    private static async Task RaceAsync(bool swap, Action cancel, Action answer, int stagger)
    {
        var start = new StartLine();
        Action cancelLate = () => Delayed(-stagger, cancel);
        Action answerLate = () => Delayed(stagger, answer);
        var mine = swap ? answerLate : cancelLate;
        var theirs = swap ? cancelLate : answerLate;
        var other = Task.Run(() =>
        {
            Volatile.Write(ref start.Ready, 1);
            SpinUntil(ref start.Go);
            theirs();
        });
        SpinUntil(ref start.Ready);
        Volatile.Write(ref start.Go, 1);
        mine();
        await other;
    }

    /// <summary>
    /// A tight spin: it sees the flag at once. A yield would hand the core to another process for a whole time slice on
    /// a loaded machine (the other side would spin all that while, and the race would be lost); only a flag that has
    /// not come for a long while yields, in case this side keeps the other from running.
    /// </summary>
    private static void SpinUntil(ref int flag)
    {
        for (var spins = 1; Volatile.Read(ref flag) == 0; spins++)
        {
            if (spins % (1 << 16) == 0)
            {
                Thread.Yield();
            }
            else
            {
                Thread.SpinWait(1);
            }
        }
    }

    private static void Delayed(int spins, Action action)
    {
        if (spins > 0)
        {
            Thread.SpinWait(spins);
        }

        action();
    }

    /// <summary>Waits for a condition without a timer's granularity: thousands of iterations each wait for it.</summary>
    private static async Task SpinUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
            await Task.Yield();
        }
    }

    private sealed class StartLine
    {
        public int Ready;
        public int Go;
    }

    /// <summary>A call that has taken the lock in the store and whose answer the test releases when it chooses.</summary>
    internal sealed class ArmedCall
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // Not asynchronous continuations: the answer travels up to the coordinator on the thread that gives it, at once.
        private readonly TaskCompletionSource _answer = new();

        public Task Entered => _entered.Task;

        public Task Answered => _answer.Task;

        public void Enter() => _entered.TrySetResult();

        public void Answer() => _answer.TrySetResult();
    }

    /// <summary>A decorator whose armed exclusive get takes the lock in the store, then answers only when the test says so.</summary>
    internal sealed class RacingStore(ISessionStateStore inner) : DelegatingStore(inner), IAsyncDisposable
    {
        private ArmedCall? _armed;

        public ArmedCall ArmNextExclusive()
        {
            var call = new ArmedCall();
            Volatile.Write(ref _armed, call);
            return call;
        }

        public override async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
        {
            var armed = Interlocked.Exchange(ref _armed, null);
            var result = await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);
            if (armed is not null)
            {
                armed.Enter();
                await armed.Answered;
            }

            return result;
        }

        public async ValueTask DisposeAsync()
        {
            switch (Inner)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    /// <summary>
    /// Telemetry that fails while armed, at one point after the store answered: a metrics listener on this test's own
    /// meters (so other tests are untouched), or a logger provider of this test's container.
    /// </summary>
    private sealed class FailingTelemetry(string failurePoint) : ILoggerProvider
    {
        private MeterListener? _listener;
        private int _thrown;

        public volatile bool Armed;

        public int Thrown => Volatile.Read(ref _thrown);

        public bool FailsOnLog => failurePoint == "acquired after wait log";

        public void Listen(IMeterFactory factory)
        {
            var instrument = failurePoint switch
            {
                "store call duration metric" => "sessionlocking.store.duration",
                "lock acquired metric" => "sessionlocking.lock.acquired",
                _ => null,
            };
            if (instrument is null)
            {
                return;
            }

            _listener = new MeterListener
            {
                InstrumentPublished = (published, listener) =>
                {
                    if (ReferenceEquals(published.Meter.Scope, factory) && published.Name == instrument)
                    {
                        listener.EnableMeasurementEvents(published);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Fail());
            _listener.SetMeasurementEventCallback<long>((_, _, _, _) => Fail());
            _listener.Start();
        }

        public ILogger CreateLogger(string categoryName) => new FailingLogger(this);

        public void Dispose() => _listener?.Dispose();

        private void Fail()
        {
            if (Armed)
            {
                Interlocked.Increment(ref _thrown);
                throw new InvalidOperationException("Telemetry failed at: " + failurePoint);
            }
        }

        private sealed class FailingLogger(FailingTelemetry owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (owner.Armed && owner.FailsOnLog && eventId.Name == "LockAcquiredAfterWait")
                {
                    owner.Fail();
                }
            }
        }
    }
}

/// <summary>The race on the in-memory store: 10,000 times.</summary>
[Collection(SerialFaults.Name)]
public sealed class InMemoryNoLockLeftBehindTests(ITestOutputHelper output) : NoLockLeftBehindTests(output)
{
    protected override int Iterations => 10_000;

    protected override void ConfigureStore(ILockedSessionBuilder builder)
    {
    }

    /// <summary>Every session of these tests is new and never written: any entry left is a placeholder held by a lock.</summary>
    protected override Task<IReadOnlyCollection<string>> LockedInStoreAsync(IServiceProvider services) =>
        Task.FromResult(((InMemorySessionStateStore)services.GetRequiredService<ConfiguredStore>().Store).SessionIds);
}

/// <summary>The race on the Redis store: 1,000 times (each race is a few round trips; 10,000 would take most of a minute on a loaded machine).</summary>
[Collection(SerialFaults.Name)]
public sealed class RedisNoLockLeftBehindTests(RedisFixture redis, ITestOutputHelper output) : NoLockLeftBehindTests(output), IClassFixture<RedisFixture>
{
    private readonly string _prefix = "leftbehind-" + Guid.NewGuid().ToString("N")[..8];

    protected override int Iterations => 1_000;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        builder.AddRedisStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.KeyPrefix = _prefix;
        });

    protected override async Task<IReadOnlyCollection<string>> LockedInStoreAsync(IServiceProvider services) =>
        (await FaultKit.LockKeysAsync(redis.Server, _prefix)).Keys.ToArray();
}

/// <summary>The race on the store that shares RedisSessionStateProvider 5's keys: 1,000 times.</summary>
[Collection(SerialFaults.Name)]
public sealed class LegacyNoLockLeftBehindTests(RedisFixture redis, ITestOutputHelper output) : NoLockLeftBehindTests(output), IClassFixture<RedisFixture>
{
    private readonly string _application = "leftbehind5-" + Guid.NewGuid().ToString("N")[..8];

    protected override int Iterations => 1_000;

    protected override void ConfigureStore(ILockedSessionBuilder builder) =>
        LegacyKeys.AddStore(builder, redis.Configuration, _application, RedisSessionStateProviderFormat.V5);

    protected override async Task<IReadOnlyCollection<string>> LockedInStoreAsync(IServiceProvider services)
    {
        using var client = await redis.Server.ConnectAsync();
        return await client.KeysAsync("{" + _application + "_*}_WriteLock");
    }
}
