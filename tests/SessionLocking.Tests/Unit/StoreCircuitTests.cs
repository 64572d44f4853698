using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;
using SessionLocking.Redis;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Unit;

/// <summary>
/// The rules of the store circuit breaker, call by call, on a manual clock (the behaviour through real requests:
/// Behavior/StoreCircuitBreakerTests; on a real Redis outage: Faults/RedisOutageFailFastTests). They are Polly's
/// circuit breaker's, which the middleware used before its own.
/// </summary>
public sealed class StoreCircuitTests
{
    private static readonly Exception Down = new SessionStoreUnavailableException("Redis is down.");

    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void Opens_when_the_failed_share_reaches_the_ratio_with_enough_calls()
    {
        var circuit = Circuit();
        Call(circuit, failed: false);
        Call(circuit, failed: true);
        Call(circuit, failed: true); // 2 of 3: below the minimum throughput of 4
        Assert.False(circuit.Enter());
        circuit.Succeeded(probe: false); // 2 of 4 failed: only a failure opens it
        Assert.False(circuit.Enter());

        circuit.Failed(Down, probe: false); // 3 of 5
        var refused = Assert.Throws<StoreCircuitOpenException>(() => circuit.Enter());
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);
    }

    [Fact]
    public void Failures_older_than_the_sampling_duration_no_longer_count()
    {
        var circuit = Circuit();
        for (var i = 0; i < 3; i++)
        {
            Call(circuit, failed: true);
        }

        _time.Advance(TimeSpan.FromSeconds(11));
        Call(circuit, failed: false);
        Call(circuit, failed: false);
        Call(circuit, failed: false);
        Call(circuit, failed: true); // 1 of 4 in the window: closed (with the old three it would be 4 of 7)
        Assert.False(circuit.Enter());
        circuit.Succeeded(probe: false);
    }

    [Fact]
    public void Answers_that_are_not_store_failures_never_open_it()
    {
        var circuit = Circuit();
        for (var i = 0; i < 20; i++)
        {
            Assert.False(circuit.Enter());
            circuit.Failed((i % 3) switch
            {
                0 => (Exception)new OperationCanceledException(),
                1 => new SessionStoreCorruptException("corrupt"),
                _ => new SessionLockLostException("lost"),
            }, probe: false);
        }

        Assert.False(circuit.Enter());
        circuit.Succeeded(probe: false);
    }

    [Fact]
    public void After_the_break_one_call_probes_while_the_others_still_fail_at_once_and_its_success_closes_it()
    {
        var circuit = OpenCircuit();
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Throws<StoreCircuitOpenException>(() => circuit.Enter());

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(circuit.Enter()); // the probe
        var during = Assert.Throws<StoreCircuitOpenException>(() => circuit.Enter());
        Assert.Null(during.RetryAfter);

        circuit.Succeeded(probe: true);
        Assert.False(circuit.Enter());
        circuit.Succeeded(probe: false);

        // Closed afresh: the failures before the break are forgotten (one more failure does not open it again).
        Call(circuit, failed: true);
        Assert.False(circuit.Enter());
        circuit.Succeeded(probe: false);
    }

    [Fact]
    public void A_failed_probe_opens_it_for_another_break()
    {
        var circuit = OpenCircuit();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(circuit.Enter());
        circuit.Failed(Down, probe: true);

        var refused = Assert.Throws<StoreCircuitOpenException>(() => circuit.Enter());
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RetryAfter);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(circuit.Enter());
    }

    [Fact]
    public void A_probe_whose_client_left_lets_the_next_call_probe()
    {
        var circuit = OpenCircuit();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(circuit.Enter());
        circuit.Failed(new OperationCanceledException(), probe: true);

        Assert.True(circuit.Enter()); // still not closed: the next call is the probe
        circuit.Succeeded(probe: true);
        Assert.False(circuit.Enter());
    }

    [Fact]
    public void Calls_that_entered_before_it_opened_do_not_extend_the_break()
    {
        var circuit = Circuit();
        Call(circuit, failed: false);
        var late = circuit.Enter(); // in flight while the circuit opens
        for (var i = 0; i < 3; i++)
        {
            Call(circuit, failed: true);
        }

        _time.Advance(TimeSpan.FromMilliseconds(900));
        circuit.Failed(Down, probe: late);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(circuit.Enter()); // the break still ends 1 s after it opened
    }

    [Fact]
    public void Off_it_lets_every_call_through()
    {
        var circuit = Circuit(enabled: false);
        for (var i = 0; i < 50; i++)
        {
            Call(circuit, failed: true);
        }

        Assert.False(circuit.Enabled);
        Assert.False(circuit.Enter());
    }

    private StoreCircuit Circuit(bool enabled = true) =>
        new(Options.Create(new LockedSessionOptions { StoreCircuitBreaker = { Enabled = enabled } }), _time, NullLogger.Instance);

    private StoreCircuit OpenCircuit()
    {
        var circuit = Circuit();
        for (var i = 0; i < 4; i++)
        {
            Call(circuit, failed: true);
        }

        Assert.Throws<StoreCircuitOpenException>(() => circuit.Enter());
        return circuit;
    }

    private static void Call(StoreCircuit circuit, bool failed)
    {
        var probe = circuit.Enter();
        if (failed)
        {
            circuit.Failed(Down, probe);
        }
        else
        {
            circuit.Succeeded(probe);
        }
    }
}
