using System.Diagnostics;

namespace SessionLocking.Diagnostics;

/// <summary>
/// The <see cref="ActivitySource"/> <c>SessionLocking</c> (names in <see cref="SessionLockingTelemetry"/>): spans for acquire (including waiting), load,
/// write-back and release, tagged with behaviour and outcome. Session ids never appear, only their hashed key.
/// </summary>
internal static class SessionLockingActivities
{
    public static readonly ActivitySource Source = new(SessionLockingTelemetry.ActivitySourceName, typeof(SessionLockingActivities).Assembly.GetName().Version?.ToString());

    public static Activity? Start(string name, SessionStateBehavior behavior, string sessionId)
    {
        var activity = Source.StartActivity(name, ActivityKind.Internal);
        if (activity is not null)
        {
            activity.SetTag(SessionLockingTelemetry.BehaviorTag, BehaviorName(behavior));
            activity.SetTag(SessionLockingTelemetry.SessionTag, new SessionKey(sessionId).ToString());
        }

        return activity;
    }

    public static string BehaviorName(SessionStateBehavior behavior) => behavior switch
    {
        SessionStateBehavior.Required => "required",
        SessionStateBehavior.ReadOnly => "read_only",
        SessionStateBehavior.Disabled => "disabled",
        _ => "default",
    };

    public static void Finish(this Activity? activity, string outcome, Exception? error = null)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag(SessionLockingTelemetry.OutcomeTag, outcome);
        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error.Message);
            activity.SetTag("error.type", error.GetType().FullName);
        }

        activity.Dispose();
    }
}
