using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Unit;

/// <summary>Where an endpoint's own lock wait limit comes from, and which values are refused.</summary>
public class EndpointLockWaitLimitTests
{
    private static readonly TimeSpan Ms300 = TimeSpan.FromMilliseconds(300);

    [Fact]
    public void A_negative_limit_on_the_attribute_is_refused_clearly()
    {
        var attribute = new SessionStateAttribute(SessionStateBehavior.Required);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => attribute.LockWaitTimeoutMilliseconds = -1);

        Assert.Equal(nameof(SessionStateAttribute.LockWaitTimeoutMilliseconds), ex.ParamName);
        Assert.Contains("cannot be negative", ex.Message);
        Assert.Equal(0, attribute.LockWaitTimeoutMilliseconds);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-300)]
    public void A_negative_limit_in_WithSessionState_is_refused_clearly(int milliseconds)
    {
        var builder = new Conventions();

        var ex = Assert.Throws<ArgumentOutOfRangeException>(
            () => builder.WithSessionState(SessionStateBehavior.Required, lockWaitTimeout: TimeSpan.FromMilliseconds(milliseconds)));

        Assert.Equal("lockWaitTimeout", ex.ParamName);
        Assert.Empty(builder.Added);
    }

    [Fact]
    public void An_infinite_limit_in_WithSessionState_is_refused()
    {
        var builder = new Conventions();

        Assert.Throws<ArgumentOutOfRangeException>(() => builder.WithSessionState(SessionStateBehavior.Required, lockWaitTimeout: Timeout.InfiniteTimeSpan));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.WithSessionState(SessionStateBehavior.Required, lockWaitTimeout: TimeSpan.MaxValue));
    }

    [Fact]
    public void Zero_or_unset_means_the_applications_limit()
    {
        var endpoint = Endpoint(
            new SessionStateAttribute(SessionStateBehavior.Required) { LockWaitTimeoutMilliseconds = 0 },
            Convention(SessionStateBehavior.Required, TimeSpan.Zero),
            Convention(SessionStateBehavior.Required, null));

        Assert.Null(SessionStateBehaviorResolver.ResolveLockWaitTimeout(endpoint));
        Assert.Null(SessionStateBehaviorResolver.ResolveLockWaitTimeout(Endpoint()));
    }

    [Fact]
    public void The_action_attribute_wins_over_the_controller_attribute_which_wins_over_WithSessionState()
    {
        // Metadata in the order ASP.NET Core adds it: the group's convention, controller attribute, action attribute, the endpoint's own convention.
        var group = Convention(SessionStateBehavior.Required, TimeSpan.FromSeconds(4));
        var controller = new SessionStateAttribute(SessionStateBehavior.Required) { LockWaitTimeoutMilliseconds = 2000 };
        var action = new SessionStateAttribute(SessionStateBehavior.ReadOnly) { LockWaitTimeoutMilliseconds = 300 };
        var own = Convention(SessionStateBehavior.Required, TimeSpan.FromSeconds(3));

        Assert.Equal(Ms300, Resolve(group, controller, action, own));
        Assert.Equal(TimeSpan.FromSeconds(2), Resolve(group, controller, own));
        Assert.Equal(TimeSpan.FromSeconds(3), Resolve(group, own));
        Assert.Equal(TimeSpan.FromSeconds(4), Resolve(group));
    }

    [Fact]
    public void A_place_that_sets_no_limit_defers_to_the_next_one()
    {
        var group = Convention(SessionStateBehavior.Required, Ms300);
        var controller = new SessionStateAttribute(SessionStateBehavior.Required) { LockWaitTimeoutMilliseconds = 2000 };
        var action = new SessionStateAttribute(SessionStateBehavior.ReadOnly);
        var own = Convention(SessionStateBehavior.ReadOnly, null);

        Assert.Equal(TimeSpan.FromSeconds(2), Resolve(group, controller, action, own));
        Assert.Equal(Ms300, Resolve(group, action, own));
    }

    [Fact]
    public void WithSessionState_adds_its_limit_to_the_endpoint()
    {
        var builder = new Conventions();
        builder.WithSessionState(SessionStateBehavior.ReadOnly, lockWaitTimeout: Ms300);
        var endpointBuilder = new RouteEndpointBuilder(_ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/x"), 0);

        Assert.Single(builder.Added).Invoke(endpointBuilder);

        var metadata = Assert.Single(endpointBuilder.Metadata.OfType<ISessionStateMetadata>());
        Assert.Equal(SessionStateBehavior.ReadOnly, metadata.Behavior);
        Assert.Equal(Ms300, metadata.LockWaitTimeout);
    }

    /// <summary>On a clock that moves only when told: the limit is the request's own, to the tick, and no one else's.</summary>
    [Fact]
    public async Task A_waiter_with_its_own_limit_gives_up_exactly_then_and_the_one_behind_it_keeps_waiting()
    {
        var time = new ManualTimeProvider();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<ISessionStateStore>(new InMemorySessionStateStore(time));
        services.AddLockedSession(o =>
        {
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
            o.PollInterval = TimeSpan.FromMinutes(10);
        });
        await using var provider = services.BuildServiceProvider();
        var coordinator = provider.GetRequiredService<SessionLockCoordinator>();
        var id = SessionIds.Create();
        var holder = await coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default);
        var otherTimers = time.PendingTimers; // the store's sweeper

        var fast = coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, Ms300, default).AsTask();
        var patient = coordinator.AcquireAsync(id, SessionStateBehavior.Required, createIfMissing: true, default).AsTask();
        await Eventually(() => time.PendingTimers == otherTimers + 2);
        time.Advance(Ms300 - TimeSpan.FromTicks(1));
        var fastBeforeItsLimit = fast.IsCompleted;
        time.Advance(TimeSpan.FromTicks(1));
        await using var gaveUp = await fast.WaitAsync(TimeSpan.FromSeconds(20));
        time.Advance(TimeSpan.FromSeconds(10));
        var patientAfterTenSeconds = patient.IsCompleted;
        await holder.DisposeAsync();
        await using var acquired = await patient.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.False(fastBeforeItsLimit);
        Assert.Equal(AcquireStatus.TimedOut, gaveUp.Status);
        Assert.Equal(Ms300, gaveUp.Waited);
        Assert.Equal(Ms300, gaveUp.AcquireTime);
        Assert.False(patientAfterTenSeconds);
        Assert.Equal(AcquireStatus.Acquired, acquired.Status);
        Assert.Equal(Ms300 + TimeSpan.FromSeconds(10), acquired.AcquireTime);
        Assert.Equal(TimeSpan.Zero, acquired.LoadTime);
    }

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(5);
        }
    }

    private static TimeSpan? Resolve(params object[] metadata) => SessionStateBehaviorResolver.ResolveLockWaitTimeout(Endpoint(metadata));

    private static Endpoint Endpoint(params object[] metadata) => new(_ => Task.CompletedTask, new EndpointMetadataCollection(metadata), "test");

    private static SessionStateConventionMetadata Convention(SessionStateBehavior behavior, TimeSpan? limit) => new(behavior, limit);

    private sealed class Conventions : IEndpointConventionBuilder
    {
        public List<Action<EndpointBuilder>> Added { get; } = [];

        public void Add(Action<EndpointBuilder> convention) => Added.Add(convention);
    }
}
