using SessionLocking;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Declares session state behaviour on endpoints, route groups and controller routes.</summary>
public static class SessionStateEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Sets the session state behaviour of the endpoints built by <paramref name="builder"/> (minimal APIs,
    /// route groups, <c>MapControllerRoute</c>), and optionally how long their requests wait for the session's lock.
    /// A <see cref="SessionStateAttribute"/> on an action, controller or handler wins over it.
    /// </summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">The endpoint convention builder.</param>
    /// <param name="behavior">The behaviour.</param>
    /// <param name="lockWaitTimeout">
    /// How long a request waits for the session's lock (or, read-only, for the writer to release it) before it is
    /// answered 503, instead of <see cref="LockedSessionOptions.LockWaitTimeout"/>: an autocomplete can give up after
    /// 300 ms while a checkout waits. Null or zero: the limit of a more specific <see cref="SessionStateAttribute"/>,
    /// else the application's.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">The behaviour is unknown, or the limit is negative or over <see cref="int.MaxValue"/> milliseconds.</exception>
    public static TBuilder WithSessionState<TBuilder>(this TBuilder builder, SessionStateBehavior behavior, TimeSpan? lockWaitTimeout = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown session state behavior.");
        }

        if (lockWaitTimeout is { } limit && (limit < TimeSpan.Zero || limit.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(
                nameof(lockWaitTimeout), limit, "The lock wait limit must be between 0 (the application's LockWaitTimeout) and int.MaxValue milliseconds.");
        }

        var metadata = new SessionStateConventionMetadata(behavior, lockWaitTimeout > TimeSpan.Zero ? lockWaitTimeout : null);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
