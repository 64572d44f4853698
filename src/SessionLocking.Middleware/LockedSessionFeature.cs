using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// The request's session state, put on <c>HttpContext.Features</c> as both <see cref="ILockedSessionFeature"/> and
/// <see cref="ISessionFeature"/> while the middleware holds the session. Disposing it takes the session off the
/// request again (as ASP.NET Core's own session middleware does), so code that runs after the release, such as a
/// middleware registered before <c>UseLockedSession</c>, fails loudly instead of writing changes that are never saved.
/// </summary>
internal sealed class LockedSessionFeature : ILockedSessionFeature, ISessionFeature, IDisposable
{
    private readonly IFeatureCollection _features;
    private readonly ISessionFeature? _previousSession;
    private readonly ILockedSessionFeature? _previousLocked;

    private LockedSessionFeature(IFeatureCollection features, SessionStateBehavior behavior, LockedSession? session)
    {
        _features = features;
        _previousSession = features.Get<ISessionFeature>();
        _previousLocked = features.Get<ILockedSessionFeature>();
        Behavior = behavior;
        State = session;
        Session = session is null ? DisabledSession.Instance : session;
    }

    public SessionStateBehavior Behavior { get; }

    public LockedSession? State { get; }

    IHttpSessionState? ILockedSessionFeature.Session => State;

    /// <summary>The early release of a Required request (null: nothing to release early).</summary>
    public Func<Task>? Release { get; set; }

    /// <inheritdoc />
    public Task ReleaseAsync() => Release?.Invoke() ?? Task.CompletedTask;

    /// <summary>ASP.NET Core's view; assigning replaces it, as with ASP.NET Core's own session feature.</summary>
    public ISession Session { get; set; }

    /// <summary>Puts the session on the request until the returned feature is disposed.</summary>
    public static LockedSessionFeature Install(HttpContext context, SessionStateBehavior behavior, LockedSession? session)
    {
        var feature = new LockedSessionFeature(context.Features, behavior, session);
        context.Features.Set<ISessionFeature>(feature);
        context.Features.Set<ILockedSessionFeature>(feature);
        return feature;
    }

    /// <summary>Takes the session off the request: what was there before (normally nothing) is back.</summary>
    public void Dispose()
    {
        _features.Set(_previousSession);
        _features.Set(_previousLocked);
    }
}
