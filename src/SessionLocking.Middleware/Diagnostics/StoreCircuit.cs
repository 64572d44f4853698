using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SessionLocking.Diagnostics;

/// <summary>
/// The store circuit breaker (<see cref="StoreCircuitBreakerOptions"/>): calls that take or read a session pass it, so
/// that once the store is known to be down they fail at once with <see cref="StoreCircuitOpenException"/> instead of
/// each waiting out the store's timeout. Calls that end a held lock do not: their work is already done, and they must
/// be tried.
/// </summary>
/// <remarks>
/// <para>
/// Closed, it counts the outcomes of the last <see cref="StoreCircuitBreakerOptions.SamplingDuration"/> in ten rolling
/// windows; a failure that brings the failed share to <see cref="StoreCircuitBreakerOptions.FailureRatio"/> with at
/// least <see cref="StoreCircuitBreakerOptions.MinimumThroughput"/> calls opens it. Open, calls fail at once for
/// <see cref="StoreCircuitBreakerOptions.BreakDuration"/>; then the first call probes the store (the others still fail
/// at once): its success closes the circuit, its failure opens it for another break, and a probe that ends neither
/// way (its client left, the store answered with a corrupt record) lets the next call probe.
/// </para>
/// <para>
/// These are the rules of Polly's circuit breaker, which the middleware used before. They are kept here in a type of
/// its own because Polly runs every call through several <c>async</c> layers of its own, and a store call on Redis
/// completes asynchronously, so each layer cost a state machine, an allocation and a continuation on every request
/// (about a seventh of the Redis store's throughput in the many-sessions benchmark, docs/benchmarks.md). Here a call
/// is a check before and a count after, with no layer of its own (<see cref="InstrumentedSessionStateStore"/> makes them).
/// </para>
/// </remarks>
internal sealed class StoreCircuit
{
    private const int Windows = 10;

    private readonly object _sync = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly double _failureRatio;
    private readonly int _minimumThroughput;
    private readonly long _windowTicks;
    private readonly long _breakTicks;
    private readonly Window[] _windows = new Window[Windows];
    private volatile bool _closed = true;
    private long _openUntil;
    private bool _probing;

    public StoreCircuit(IOptions<LockedSessionOptions> options, TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
        var breaker = options.Value.StoreCircuitBreaker;
        Enabled = breaker is { Enabled: true };
        if (!Enabled)
        {
            return;
        }

        _failureRatio = breaker.FailureRatio;
        _minimumThroughput = breaker.MinimumThroughput;
        _windowTicks = Math.Max(1, (long)(breaker.SamplingDuration.TotalSeconds * time.TimestampFrequency / Windows));
        _breakTicks = (long)(breaker.BreakDuration.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>Whether calls pass the circuit at all (<see cref="StoreCircuitBreakerOptions.Enabled"/>).</summary>
    public bool Enabled { get; }

    /// <summary>
    /// Before a call: returns whether this call is the probe of a circuit that was open; throws
    /// <see cref="StoreCircuitOpenException"/> when the call must not be made. Each call that returns is followed by
    /// exactly one <see cref="Succeeded"/> or <see cref="Failed"/> with the same probe flag.
    /// </summary>
    public bool Enter()
    {
        if (!Enabled || _closed)
        {
            return false;
        }

        lock (_sync)
        {
            if (_closed)
            {
                return false;
            }

            var now = _time.GetTimestamp();
            if (_probing || now < _openUntil)
            {
                var retryAfter = _probing ? (TimeSpan?)null : TimeSpan.FromSeconds((_openUntil - now) / (double)_time.TimestampFrequency);
                throw new StoreCircuitOpenException(retryAfter);
            }

            _probing = true;
            return true;
        }
    }

    /// <summary>After a call that returned an answer.</summary>
    public void Succeeded(bool probe)
    {
        if (!Enabled)
        {
            return;
        }

        if (probe)
        {
            Close();
            return;
        }

        lock (_sync)
        {
            Current(_time.GetTimestamp()).Successes++;
        }
    }

    /// <summary>After a call that threw <paramref name="exception"/>: a store failure counts, anything else is an answer (or no call at all).</summary>
    public void Failed(Exception exception, bool probe)
    {
        if (!Enabled)
        {
            return;
        }

        if (!IsStoreFailure(exception))
        {
            if (probe)
            {
                // Neither way: the next call probes.
                lock (_sync)
                {
                    _probing = false;
                }
            }
            else
            {
                Succeeded(probe: false);
            }

            return;
        }

        lock (_sync)
        {
            var now = _time.GetTimestamp();
            if (!probe)
            {
                if (!_closed)
                {
                    // A call that entered before the circuit opened: the circuit knows already.
                    return;
                }

                Current(now).Failures++;
                var (calls, failures) = Totals(now);
                if (calls < _minimumThroughput || failures < _failureRatio * calls)
                {
                    return;
                }
            }

            _openUntil = now + _breakTicks;
            _probing = false;
            _closed = false;
        }

        Log.StoreCircuitOpened(_logger, exception, _breakTicks * 1000.0 / _time.TimestampFrequency);
    }

    /// <summary>
    /// What says the store is down: any failure but a corrupt record (the store answered), a lost lock (it answered) and
    /// a cancelled call (the client left).
    /// </summary>
    private static bool IsStoreFailure(Exception ex) =>
        ex is not (OperationCanceledException or SessionStoreCorruptException or SessionLockLostException or StoreCircuitOpenException);

    private void Close()
    {
        lock (_sync)
        {
            Array.Clear(_windows);
            _probing = false;
            _closed = true;
        }

        Log.StoreCircuitClosed(_logger);
    }

    /// <summary>The window <paramref name="now"/> falls in, emptied first when it last counted an older period. Call under the lock.</summary>
    private ref Window Current(long now)
    {
        var period = now / _windowTicks;
        ref var window = ref _windows[(int)(period % Windows)];
        if (window.Period != period)
        {
            window = new Window { Period = period };
        }

        return ref window;
    }

    /// <summary>The calls and failures of the windows within the sampling duration. Call under the lock.</summary>
    private (int Calls, int Failures) Totals(long now)
    {
        var period = now / _windowTicks;
        int calls = 0, failures = 0;
        foreach (var window in _windows)
        {
            if (window.Period > period - Windows)
            {
                calls += window.Successes + window.Failures;
                failures += window.Failures;
            }
        }

        return (calls, failures);
    }

    private struct Window
    {
        public long Period;
        public int Successes;
        public int Failures;
    }
}
