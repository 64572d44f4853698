using SessionLocking;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Declares session state behaviour on endpoints, route groups and controller routes.</summary>
public static class SessionStateEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Sets the session state behaviour of the endpoints built by <paramref name="builder"/> (minimal APIs,
    /// route groups, <c>MapControllerRoute</c>). A <see cref="SessionStateAttribute"/> on an action, controller
    /// or handler wins over it.
    /// </summary>
    /// <typeparam name="TBuilder">The builder type.</typeparam>
    /// <param name="builder">The endpoint convention builder.</param>
    /// <param name="behavior">The behaviour.</param>
    public static TBuilder WithSessionState<TBuilder>(this TBuilder builder, SessionStateBehavior behavior)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown session state behavior.");
        }

        var metadata = new SessionStateConventionMetadata(behavior);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
