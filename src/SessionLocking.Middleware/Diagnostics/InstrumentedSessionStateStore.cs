using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Locking;

namespace SessionLocking.Diagnostics;

/// <summary>
/// Wraps the application's store to time every call by operation, count bytes read and written, and trace
/// loads, write-backs and releases. The middleware and the coordinator talk to the store only through it. It is a
/// store itself (a decorator keeps the contract); release notifications are a service of their own and never looked
/// for on the wrapped store. Calls that take or read a session pass the <see cref="StoreCircuit"/>, which fails them
/// at once while the store is known to be down; calls that end a held lock are always made.
/// </summary>
internal sealed class InstrumentedSessionStateStore : ISessionStateStore
{
    private readonly TimeProvider _time;
    private readonly SessionLockingMetrics _metrics;
    private readonly StoreCircuit _circuit;

    public InstrumentedSessionStateStore(ISessionStateStore store, IOptions<LockedSessionOptions> options, TimeProvider time, ILoggerFactory loggers, SessionLockingMetrics metrics)
    {
        Inner = store;
        _time = time;
        _metrics = metrics;
        _circuit = new StoreCircuit(options, time, loggers.CreateLogger<StoreCircuit>());
    }

    /// <summary>The application's store.</summary>
    public ISessionStateStore Inner { get; }

    public SessionStateMode Mode => Inner.Mode;

    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint: null, take: null, cancellationToken);

    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, CancellationToken cancellationToken) =>
        GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint, take: null, cancellationToken);

    /// <summary>
    /// The exclusive get of an acquisition: the store's answer goes to <paramref name="take"/> before any telemetry runs,
    /// so a lock the store took is released even when a listener fails after the answer.
    /// </summary>
    public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, LockTake? take, CancellationToken cancellationToken)
    {
        using var activity = SessionLockingActivities.Start(SessionLockingTelemetry.LoadActivity, SessionStateBehavior.Required, sessionId);
        var call = Begin(guarded: true);
        SessionStoreResult result;
        try
        {
            call.Enter(_circuit);

            // Only a holder to name goes through the overload: a store that predates it keeps being called as before.
            result = holderEndpoint is null
                ? await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken)
                : await Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint, cancellationToken);
            take?.Answered(result);
        }
        catch (Exception ex)
        {
            Failed(call, "get_exclusive", activity, ex);
            throw;
        }

        Succeeded(call, "get_exclusive");
        return Loaded(result, activity);
    }

    public async ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken)
    {
        using var activity = SessionLockingActivities.Start(SessionLockingTelemetry.LoadActivity, SessionStateBehavior.ReadOnly, sessionId);
        var call = Begin(guarded: true);
        SessionStoreResult result;
        try
        {
            call.Enter(_circuit);
            result = await Inner.GetSharedAsync(sessionId, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(call, "get_shared", activity, ex);
            throw;
        }

        Succeeded(call, "get_shared");
        return Loaded(result, activity);
    }

    public async ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        using var activity = SessionLockingActivities.Start(SessionLockingTelemetry.WriteBackActivity, SessionStateBehavior.Required, sessionId);
        long bytes = 0;
        foreach (var (name, value) in changes.Set)
        {
            bytes += name.Length + value.Length;
        }

        var call = Begin(guarded: false);
        bool accepted;
        try
        {
            accepted = await Inner.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(call, "write_and_release", activity, ex);
            throw;
        }

        Succeeded(call, "write_and_release");
        if (accepted)
        {
            _metrics.BytesWritten(bytes);
        }

        activity?.SetTag(SessionLockingTelemetry.OutcomeTag, accepted ? "written" : "rejected");
        return accepted;
    }

    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        ReleaseLikeAsync("release", sessionId, () => Inner.ReleaseAsync(sessionId, lockId, cancellationToken));

    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        ReleaseLikeAsync("remove", sessionId, () => Inner.RemoveAsync(sessionId, lockId, cancellationToken));

    /// <summary>The abandon of a session whose end is raised: recorded with the items as the request left them, where the store raises ends.</summary>
    public ValueTask<bool> AbandonAsync(string sessionId, SessionLockId lockId, SessionChanges lastChanges, CancellationToken cancellationToken) =>
        ReleaseLikeAsync("remove", sessionId, () => Inner is ISessionEndStore ends
            ? ends.AbandonAsync(sessionId, lockId, lastChanges, cancellationToken)
            : Inner.RemoveAsync(sessionId, lockId, cancellationToken));

    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        ReleaseLikeAsync("force_release", sessionId, () => Inner.ForceReleaseAsync(sessionId, holderLockId, cancellationToken), guarded: true);

    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await TimeAsync("keep_alive", null, async () =>
        {
            await Inner.KeepAliveAsync(sessionId, cancellationToken);
            return true;
        }, guarded: true);

    private async ValueTask<bool> ReleaseLikeAsync(string operation, string sessionId, Func<ValueTask<bool>> call, bool guarded = false)
    {
        using var activity = SessionLockingActivities.Start(SessionLockingTelemetry.ReleaseActivity, SessionStateBehavior.Required, sessionId);
        activity?.SetTag(SessionLockingTelemetry.OperationTag, operation);
        var released = await TimeAsync(operation, activity, call, guarded);
        activity?.SetTag(SessionLockingTelemetry.OutcomeTag, released ? "released" : "rejected");
        return released;
    }

    private SessionStoreResult Loaded(SessionStoreResult result, Activity? activity)
    {
        if (result.Data is { } data)
        {
            long bytes = 0;
            foreach (var (name, value) in data.Items)
            {
                bytes += name.Length + value.Length;
            }

            _metrics.BytesRead(bytes);
        }

        activity?.SetTag(SessionLockingTelemetry.OutcomeTag, result.Status switch
        {
            SessionStoreStatus.Found => "found",
            SessionStoreStatus.NotFound => "not_found",
            _ => "locked",
        });
        return result;
    }

    /// <summary>Times one store call; a guarded one (it takes or reads a session) passes the circuit, one that ends a held lock does not.</summary>
    private async ValueTask<T> TimeAsync<T>(string operation, Activity? activity, Func<ValueTask<T>> call, bool guarded = false)
    {
        var timed = Begin(guarded);
        T result;
        try
        {
            timed.Enter(_circuit);
            result = await call();
        }
        catch (Exception ex)
        {
            Failed(timed, operation, activity, ex);
            throw;
        }

        Succeeded(timed, operation);
        return result;
    }

    // The load and write-back paths above time their calls inline rather than through TimeAsync: with Redis every call completes
    // asynchronously, and each async layer costs a state machine and a continuation on every request.
    private TimedCall Begin(bool guarded) => new(_time.GetTimestamp(), guarded && _circuit.Enabled);

    private void Succeeded(TimedCall call, string operation)
    {
        if (call.Guarded)
        {
            _circuit.Succeeded(call.Probe);
        }

        _metrics.StoreCall(operation, _time.GetElapsedTime(call.Started), failed: false);
    }

    private void Failed(TimedCall call, string operation, Activity? activity, Exception ex)
    {
        // A call the circuit refused was not made: it counts for the metrics, not for the circuit.
        if (call.Guarded && ex is not StoreCircuitOpenException)
        {
            _circuit.Failed(ex, call.Probe);
        }

        _metrics.StoreCall(operation, _time.GetElapsedTime(call.Started), failed: true);
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity.SetTag("error.type", ex.GetType().FullName);
        }
    }

    /// <summary>One store call as it is timed: when it started, whether it passes the circuit, and whether it is the circuit's probe.</summary>
    private struct TimedCall(long started, bool guarded)
    {
        public readonly long Started = started;
        public readonly bool Guarded = guarded;
        public bool Probe;

        /// <summary>Asks the circuit to let a guarded call through (throws <see cref="StoreCircuitOpenException"/> when it is open).</summary>
        public void Enter(StoreCircuit circuit)
        {
            if (Guarded)
            {
                Probe = circuit.Enter();
            }
        }
    }
}
