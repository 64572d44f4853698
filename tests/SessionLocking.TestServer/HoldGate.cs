namespace SessionLocking.TestServer;

/// <summary>Lets a test keep a request inside its endpoint (holding the session lock) until it opens the gate.</summary>
public sealed class HoldGate
{
    private TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a request entered the gate.</summary>
    public Task Entered => _entered.Task;

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        _entered.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken);
    }

    /// <summary>A value the request inside the gate reports to the test (for example the id RegenerateId made).</summary>
    public string? Note { get; set; }

    public void Open() => _gate.TrySetResult();

    public void Reset()
    {
        _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
