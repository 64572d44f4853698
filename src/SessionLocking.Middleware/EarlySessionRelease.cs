namespace SessionLocking;

/// <summary>
/// The early release of a <see cref="SessionStateBehavior.Required"/> request (<c>HttpContext.ReleaseSessionAsync()</c>,
/// a WebSocket upgrade, a server-sent-events response): the session refuses changes from now on, is saved as at the end
/// of the request (the same release plan, fenced by the lock), and the response becomes the server's again. It runs
/// once; a second call gets the first one's task. The end of the request then does nothing more for the session.
/// </summary>
internal sealed class EarlySessionRelease(LockedSession session, SessionResponse response, Func<Task> save)
{
    private Task? _release;

    /// <summary>True once the release started (the end of the request then only waits for it).</summary>
    public bool Started => Volatile.Read(ref _release) is not null;

    /// <summary>The release's task, once it started.</summary>
    public Task? Task => Volatile.Read(ref _release);

    public Task ReleaseAsync()
    {
        // Only the first caller runs it (the endpoint and a stream's first flush may race); the others get its task.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _release, mine.Task, null) is { } started)
        {
            return started;
        }

        _ = RunAsync(mine);
        return mine.Task;
    }

    private async Task RunAsync(TaskCompletionSource done)
    {
        try
        {
            // Before the plan is made: a change made while the save runs must fail, not be silently lost.
            session.MarkReleasedEarly();
            response.ThrowIfOverLimit();
            await save();
            await response.ReleasedAsync();
            done.TrySetResult();
        }
        catch (Exception ex)
        {
            done.TrySetException(ex);
        }
    }
}
