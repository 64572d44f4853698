using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// The one owner of a request's session lock, from the moment the store may hold it until it is released.
/// <see cref="CarryOutAsync"/> ends it as the session's <see cref="ReleasePlan"/> says (write, remove, move or
/// release, each fenced by the lock id); <see cref="DisposeAsync"/> releases it without writing on every other
/// path: endpoint exception, serialization error, response already started, store failure, cancellation.
/// A read-only acquisition holds no store lock, and a failed one holds nothing; disposing them does nothing.
/// </summary>
internal sealed class SessionLock : IAsyncDisposable
{
    private const string LockLostMessage =
        "The session lock of this request was force-released after the execution timeout (LockedSessionOptions.ExecutionTimeout), so its session changes were rejected and not saved. Another request may hold the session now; its data is untouched.";

    private readonly LockTools _tools;
    private readonly LocalHold? _hold;
    private bool _storeLockEnded;
    private int _holdRecorded;

    /// <param name="sessionId">The session.</param>
    /// <param name="status">How the acquisition ended.</param>
    /// <param name="storeResult">The store's answer (the session's data and, for an exclusive acquisition, the lock).</param>
    /// <param name="waited">How long the request waited for the lock.</param>
    /// <param name="hold">For an exclusive acquisition: its place in the session's queue on this server, ended with the lock.</param>
    /// <param name="tools">The store, log and meter the owner ends the lock with.</param>
    public SessionLock(string sessionId, AcquireStatus status, SessionStoreResult storeResult, TimeSpan waited, LocalHold? hold, LockTools tools)
    {
        SessionId = sessionId;
        Status = status;
        StoreResult = storeResult;
        Waited = waited;
        _hold = hold;
        _tools = tools;
        _storeLockEnded = !HoldsStoreLock;
    }

    public AcquireStatus Status { get; }

    public string SessionId { get; }

    public SessionStoreResult StoreResult { get; }

    public TimeSpan Waited { get; }

    /// <summary>The whole acquisition: from its first store call until it was granted (or gave up).</summary>
    public TimeSpan AcquireTime { get; init; }

    /// <summary>The store call that loaded the session (zero when none did: a failed acquisition, a new read-only session).</summary>
    public TimeSpan LoadTime { get; init; }

    /// <summary>The holder this request waited for (or, when it gave up, still holds the lock); null when it did not wait or none was seen.</summary>
    public LockHolder? Holder { get; init; }

    /// <summary>The request's route pattern (tags the lock's hold duration); null when unknown.</summary>
    public string? Route { get; init; }

    /// <summary>The behaviour the lock was taken for.</summary>
    public SessionStateBehavior Behavior { get; init; } = SessionStateBehavior.Required;

    /// <summary>When (timestamp of <see cref="Time"/>) the lock was granted.</summary>
    public long GrantedAt { get; init; }

    /// <summary>The clock of <see cref="GrantedAt"/>; null for an owner that measures no hold.</summary>
    public TimeProvider? Time { get; init; }

    /// <summary>True once the store lock is gone (released, written back, removed, or found lost), or was never held.</summary>
    public bool Ended => _storeLockEnded;

    /// <summary>True for an exclusive acquisition that took the store's lock (the only kind there is to release).</summary>
    private bool HoldsStoreLock => _hold is not null && StoreResult.HasLock;

    /// <summary>
    /// Carries out <paramref name="plan"/> and so releases the lock; a <see cref="ReleaseKind.Move"/> needs the new id's
    /// lock, <paramref name="newIdLock"/>, taken by the caller. Throws <see cref="SessionLockLostException"/> when
    /// the lock was no longer this request's and the plan carried changes (nothing was written, under any id), and
    /// the store's exception when the store failed (<see cref="DisposeAsync"/> then still tries a plain release).
    /// </summary>
    public async Task CarryOutAsync(ReleasePlan plan, SessionLock? newIdLock = null)
    {
        if (!HoldsStoreLock || _storeLockEnded)
        {
            return;
        }

        // Not the request's token: once the endpoint has run, its changes must be saved and the lock released even
        // if the client has gone. The store bounds each call with its own timeout.
        var store = _tools.Store;
        var lockId = StoreResult.LockId;
        var sessionKey = new SessionKey(SessionId);
        bool accepted;
        try
        {
            accepted = plan.Kind switch
            {
                ReleaseKind.Write => await store.WriteAndReleaseAsync(SessionId, lockId, plan.Changes!, CancellationToken.None),
                ReleaseKind.Remove when plan.Changes is { } lastChanges => await store.AbandonAsync(SessionId, lockId, lastChanges, CancellationToken.None),
                ReleaseKind.Remove => await store.RemoveAsync(SessionId, lockId, CancellationToken.None),
                ReleaseKind.Move => await MoveAsync(plan, newIdLock),
                _ => await store.ReleaseAsync(SessionId, lockId, CancellationToken.None),
            };
        }
        catch (Exception ex) when (plan.BestEffort)
        {
            // Nothing at stake, and a second try on dispose would only make the response wait for a failing store again.
            _storeLockEnded = true;
            EndLocally();
            Log.NeverSharedReleaseFailed(_tools.Logger, ex, sessionKey);
            return;
        }
        catch (Exception ex) when (ex is not SessionLockLostException)
        {
            Log.WriteBackFailed(_tools.Logger, ex, sessionKey, "the session store failed");
            throw;
        }

        _storeLockEnded = true;
        EndLocally();
        if (plan.Kind == ReleaseKind.Remove && accepted)
        {
            Log.SessionAbandoned(_tools.Logger, sessionKey);
        }

        if (!accepted)
        {
            _tools.Metrics.FencedWriteRejected();
            Log.WriteBackRejected(_tools.Logger, sessionKey, lockId);
            if (plan.CarriesChanges)
            {
                throw new SessionLockLostException(LockLostMessage);
            }
        }
    }

    /// <summary>Releases the lock without writing unless <see cref="CarryOutAsync"/> did; then lets this server's next waiter in.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_storeLockEnded)
        {
            _storeLockEnded = true;
            try
            {
                await _tools.Store.ReleaseAsync(SessionId, StoreResult.LockId, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // The exception that brought us here is the one to report; the lock expires by its TTL.
                Log.StoreFailed(_tools.Logger, ex, "release");
            }
        }

        EndLocally();
    }

    /// <summary>
    /// The session under its new id, without a stale holder ever writing: the new id is locked first (by the caller,
    /// <paramref name="target"/>; nothing stored there yet), then the old session is removed, fenced by this request's
    /// lock, which is the commit point; only then is the session written under the new id. Returns false (nothing
    /// written anywhere) when the old lock was lost.
    /// </summary>
    private async Task<bool> MoveAsync(ReleasePlan plan, SessionLock? target)
    {
        var newId = plan.NewSessionId!;
        if (target is null || target.SessionId != newId || target.Status != AcquireStatus.Acquired
            || target.StoreResult.Status != SessionStoreStatus.NotFound || !target.StoreResult.HasLock)
        {
            throw new InvalidOperationException("The session could not be stored under its new id: that id is already in use.");
        }

        var store = _tools.Store;
        var wasStored = StoreResult.Status == SessionStoreStatus.Found;
        var committed = wasStored
            ? await store.RemoveAsync(SessionId, StoreResult.LockId, CancellationToken.None)
            : await store.ReleaseAsync(SessionId, StoreResult.LockId, CancellationToken.None);
        if (!committed)
        {
            return false;
        }

        // The old lock is gone: from here on the new id's lock is the only one this request holds.
        _storeLockEnded = true;
        EndLocally();
        await target.CarryOutAsync(ReleasePlan.Write(plan.Changes!));
        Log.SessionIdRegenerated(_tools.Logger, new SessionKey(SessionId), new SessionKey(newId));
        return true;
    }

    /// <summary>The store lock is gone: this server's next waiter may go.</summary>
    private void EndLocally()
    {
        if (HoldsStoreLock && Time is { } time && Interlocked.Exchange(ref _holdRecorded, 1) == 0)
        {
            _tools.Metrics.LockHeld(Behavior, time.GetElapsedTime(GrantedAt), Route);
        }

        _hold?.End();
    }
}
