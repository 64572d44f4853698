using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace SessionLocking.Diagnostics;

/// <summary>
/// The store circuit breaker (<see cref="StoreCircuitBreakerOptions"/>), on Polly's: calls that take or read a session
/// go through it, so that once the store is known to be down they fail at once with
/// <see cref="StoreCircuitOpenException"/> instead of each waiting out the store's timeout. Calls that end a held lock
/// do not: their work is already done, and they must be tried.
/// </summary>
internal sealed class StoreCircuit
{
    private readonly ResiliencePipeline? _pipeline;

    public StoreCircuit(IOptions<LockedSessionOptions> options, TimeProvider time, ILogger logger)
    {
        var breaker = options.Value.StoreCircuitBreaker;
        if (breaker is not { Enabled: true })
        {
            return;
        }

        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = breaker.FailureRatio,
                MinimumThroughput = breaker.MinimumThroughput,
                SamplingDuration = breaker.SamplingDuration,
                BreakDuration = breaker.BreakDuration,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsStoreFailure(ex)),
                OnOpened = args =>
                {
                    Log.StoreCircuitOpened(logger, args.Outcome.Exception, args.BreakDuration.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Log.StoreCircuitClosed(logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>Runs <paramref name="call"/> unless the circuit is open; then throws <see cref="StoreCircuitOpenException"/>.</summary>
    public async ValueTask<T> RunAsync<T>(Func<ValueTask<T>> call)
    {
        if (_pipeline is null)
        {
            return await call().ConfigureAwait(false);
        }

        try
        {
            return await _pipeline.ExecuteAsync(static (call, _) => call(), call, CancellationToken.None).ConfigureAwait(false);
        }
        catch (BrokenCircuitException ex)
        {
            throw new StoreCircuitOpenException(ex);
        }
    }

    /// <summary>
    /// What says the store is down: any failure but a corrupt record (the store answered), a lost lock (it answered) and
    /// a cancelled call (the client left).
    /// </summary>
    private static bool IsStoreFailure(Exception ex) =>
        ex is not (OperationCanceledException or SessionStoreCorruptException or SessionLockLostException or StoreCircuitOpenException);
}
