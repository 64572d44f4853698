using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;

namespace SessionLocking.SessionEnds;

/// <summary>
/// Raises <see cref="LockedSessionEvents.OnSessionEnd"/>: every <see cref="LockedSessionOptions.SessionEndSweepInterval"/>
/// (and at once after this server recorded an abandon) it claims as many due ends from the store as it has free handler
/// slots, runs each handler in its own service scope, then tells the store the end was raised. Nothing of it runs without
/// a handler. Built before the first request (the middleware depends on it), so the store records ends from the start.
/// </summary>
internal sealed class SessionEndDispatcher : IHostedService
{
    private readonly ISessionEndStore? _ends;
    private readonly Func<SessionEndContext, Task>? _handler;
    private readonly LockedSessionOptions _options;
    private readonly SessionStateMode _mode;
    private readonly ISessionItemFormat _format;
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SessionLockingMetrics _metrics;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _handlers = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _running;
    private volatile bool _saturated;

    public SessionEndDispatcher(
        ISessionStateStore store,
        IOptions<LockedSessionOptions> options,
        ISessionItemFormat format,
        IServiceScopeFactory scopes,
        TimeProvider time,
        ILogger<SessionEndDispatcher> logger,
        SessionLockingMetrics metrics)
    {
        _options = options.Value;
        _mode = store.Mode;
        _format = format;
        _scopes = scopes;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _handler = _options.Events.OnSessionEnd;
        if (_handler is null)
        {
            return;
        }

        if (store is not ISessionEndStore ends)
        {
            Log.SessionEndsNotSupported(logger, store.GetType().Name);
            return;
        }

        _ends = ends;
        ends.TrackEnds(Wake);
    }

    /// <summary>How long a claim is this server's alone: the handler's time, plus a sweep for telling the store it ended.</summary>
    internal TimeSpan Lease => _options.SessionEndHandlerTimeout + _options.SessionEndSweepInterval;

    /// <summary>Handlers running now (for tests).</summary>
    internal int Running => Volatile.Read(ref _running);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_ends is not null)
        {
            _loop = Task.Run(() => SweepLoopAsync(_stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var running = _handlers.Keys.ToArray();
        try
        {
            await Task.WhenAll(running).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Log.SessionEndHandlersLeftRunning(_logger, running.Count(t => !t.IsCompleted));
        }
    }

    /// <summary>Sweeps now instead of at the next interval (an abandon was recorded, or a handler slot freed up while ends wait).</summary>
    private void Wake() => Volatile.Read(ref _wake).TrySetResult();

    private async Task SweepLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _wake, wake);
            await SweepAsync(stopping);
            using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            var delay = Task.Delay(_options.SessionEndSweepInterval, _time, delayCancel.Token);
            await Task.WhenAny(delay, wake.Task);
            await delayCancel.CancelAsync();
        }
    }

    private async Task SweepAsync(CancellationToken stopping)
    {
        var free = _options.MaxConcurrentSessionEndHandlers - Volatile.Read(ref _running);
        if (free <= 0)
        {
            _saturated = true;
            return;
        }

        IReadOnlyList<SessionEndClaim> claims;
        try
        {
            claims = await _ends!.ClaimEndsAsync(free, Lease, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            Log.SessionEndSweepFailed(_logger, ex);
            return;
        }

        _saturated = claims.Count >= free;
        foreach (var claim in claims)
        {
            Interlocked.Increment(ref _running);
            var task = RaiseAsync(claim);
            _handlers.TryAdd(task, true);
            _ = task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _), _handlers, TaskScheduler.Default);
        }
    }

    /// <summary>Runs one handler and completes its end; never throws.</summary>
    private async Task RaiseAsync(SessionEndClaim claim)
    {
        await Task.Yield();
        var raised = true;
        try
        {
            raised = await RunHandlerAsync(claim);
        }
        finally
        {
            if (raised)
            {
                await CompleteAsync(claim);
            }

            Interlocked.Decrement(ref _running);
            if (_saturated)
            {
                Wake();
            }
        }
    }

    /// <summary>The handler in its scope, bounded by the handler timeout. False when the host stopped it (the end is left to be raised again).</summary>
    private async Task<bool> RunHandlerAsync(SessionEndClaim claim)
    {
        var sessionKey = new SessionKey(claim.SessionId);
        var scope = _scopes.CreateAsyncScope();
        var disposeScope = true;
        try
        {
            var session = new LockedSession(claim.SessionId, claim.Data, isReadOnly: true, _mode, _format, _options, static () => true)
            {
                Ended = true,
                EndpointName = "OnSessionEnd",
            };
            var context = new SessionEndContext(claim.SessionId, claim.Reason, session, scope.ServiceProvider, _stopping.Token);
            Task handler;
            try
            {
                handler = _handler!(context) ?? Task.CompletedTask;
            }
            catch (Exception ex)
            {
                handler = Task.FromException(ex);
            }

            try
            {
                await handler.WaitAsync(_options.SessionEndHandlerTimeout, _time);
                _metrics.SessionEndRaised(claim.Reason);
                Log.SessionEndRaised(_logger, sessionKey, claim.Reason);
            }
            catch (TimeoutException) when (!handler.IsCompleted)
            {
                // The scope lives as long as the handler that may still use it.
                disposeScope = false;
                _ = handler.ContinueWith(static (_, s) => ((AsyncServiceScope)s!).DisposeAsync().AsTask(), scope, TaskScheduler.Default).Unwrap();
                _metrics.SessionEndFailed(claim.Reason, "hung");
                Log.SessionEndHandlerHung(_logger, sessionKey, claim.Reason, _options.SessionEndHandlerTimeout.TotalMilliseconds);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception ex)
            {
                _metrics.SessionEndFailed(claim.Reason, "exception");
                Log.SessionEndHandlerFailed(_logger, ex, sessionKey, claim.Reason);
            }

            return true;
        }
        finally
        {
            if (disposeScope)
            {
                await scope.DisposeAsync();
            }
        }
    }

    private async Task CompleteAsync(SessionEndClaim claim)
    {
        try
        {
            if (!await _ends!.CompleteEndAsync(claim, CancellationToken.None))
            {
                Log.SessionEndClaimLost(_logger, new SessionKey(claim.SessionId));
            }
        }
        catch (Exception ex)
        {
            Log.SessionEndCompleteFailed(_logger, ex, new SessionKey(claim.SessionId));
        }
    }
}
