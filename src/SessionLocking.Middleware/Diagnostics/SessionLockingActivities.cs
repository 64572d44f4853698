using System.Diagnostics;

namespace SessionLocking.Diagnostics;

/// <summary>
/// The <see cref="ActivitySource"/> <c>SessionLocking</c>: spans for acquire (including waiting), load,
/// write-back and release, tagged with behaviour and outcome. Session ids never appear, only their hashed key.
/// </summary>
internal static class SessionLockingActivities
{
    public const string SourceName = "SessionLocking";

    public static readonly ActivitySource Source = new(SourceName, typeof(SessionLockingActivities).Assembly.GetName().Version?.ToString());

    public const string BehaviorTag = "sessionlocking.behavior";
    public const string OutcomeTag = "sessionlocking.outcome";
    public const string SessionTag = "sessionlocking.session";
    public const string OperationTag = "sessionlocking.operation";

    public static Activity? Start(string name, SessionStateBehavior behavior, string sessionId)
    {
        var activity = Source.StartActivity(name, ActivityKind.Internal);
        if (activity is not null)
        {
            activity.SetTag(BehaviorTag, BehaviorName(behavior));
            activity.SetTag(SessionTag, new SessionKey(sessionId).ToString());
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

        activity.SetTag(OutcomeTag, outcome);
        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error.Message);
            activity.SetTag("error.type", error.GetType().FullName);
        }

        activity.Dispose();
    }
}
