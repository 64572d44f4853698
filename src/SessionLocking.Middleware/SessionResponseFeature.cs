using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// <see cref="IHttpResponseFeature"/> of a <see cref="SessionStateBehavior.Required"/> request. Keeps the
/// application's <c>OnStarting</c> callbacks, so that a response that has not started when the endpoint returns has
/// them run before the session is saved (<see cref="RunOnStartingAsync"/>): a callback that throws then fails the
/// request with nothing saved. Left to the server, it would run them only when a held response starts, after the
/// save: after <c>RegenerateId</c> the session would have moved and the failed response would not carry the new id.
/// A response that starts during the endpoint runs them then, as the server would.
/// </summary>
internal sealed class SessionResponseFeature(IHttpResponseFeature inner) : IHttpResponseFeature
{
    private Stack<(Func<object, Task> Callback, object State)>? _onStarting;
    private bool _handedOver;

    public IHttpResponseFeature Inner => inner;

    public int StatusCode
    {
        get => inner.StatusCode;
        set => inner.StatusCode = value;
    }

    public string? ReasonPhrase
    {
        get => inner.ReasonPhrase;
        set => inner.ReasonPhrase = value;
    }

    public Microsoft.AspNetCore.Http.IHeaderDictionary Headers
    {
        get => inner.Headers;
        set => inner.Headers = value;
    }

#pragma warning disable CS0618 // Obsolete in the interface; passed through for the code that still uses it.
    [Obsolete("Use IHttpResponseBodyFeature.Stream.")]
    public Stream Body
    {
        get => inner.Body;
        set => inner.Body = value;
    }
#pragma warning restore CS0618

    public bool HasStarted => inner.HasStarted;

    public void OnStarting(Func<object, Task> callback, object state)
    {
        if (inner.HasStarted || _handedOver)
        {
            inner.OnStarting(callback, state); // the server's own error for a response that has started
            return;
        }

        (_onStarting ??= new()).Push((callback, state));
    }

    public void OnCompleted(Func<object, Task> callback, object state) => inner.OnCompleted(callback, state);

    /// <summary>
    /// The session was saved early: the callbacks not run yet go to the server, in the order they were registered (it
    /// runs them last first, as it would have), to run when the response really starts; later ones go straight there.
    /// </summary>
    public void HandOver()
    {
        _handedOver = true;
        if (inner.HasStarted || _onStarting is not { Count: > 0 } callbacks)
        {
            return;
        }

        var registered = callbacks.ToArray();
        callbacks.Clear();
        for (var i = registered.Length - 1; i >= 0; i--)
        {
            inner.OnStarting(registered[i].Callback, registered[i].State);
        }
    }

    /// <summary>Runs the callbacks not run yet, last registered first (as the server does), each even if one before it threw.</summary>
    public Task RunOnStartingAsync() => _onStarting is { Count: > 0 } callbacks ? RunAsync(callbacks) : Task.CompletedTask;

    private static async Task RunAsync(Stack<(Func<object, Task> Callback, object State)> callbacks)
    {
        List<Exception>? failures = null;
        while (callbacks.TryPop(out var entry))
        {
            try
            {
                await entry.Callback(entry.State);
            }
            catch (Exception ex)
            {
                (failures ??= new()).Add(ex);
            }
        }

        if (failures is [var single])
        {
            ExceptionDispatchInfo.Throw(single);
        }
        else if (failures is not null)
        {
            throw new AggregateException(failures);
        }
    }
}
