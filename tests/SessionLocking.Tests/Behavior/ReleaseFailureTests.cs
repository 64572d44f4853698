using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>Issue 17, item 6: a failed release fails the request only when something is at stake.</summary>
public sealed class ReleaseFailureTests(ITestOutputHelper output)
{
    /// <summary>
    /// A request without a cookie that stores nothing: nothing is at stake when the store fails to release its lock (the
    /// lock is on an id nobody was told, and expires by its time to live). Before the fix the response was cut off (the body had
    /// started): "The response ended prematurely".
    /// </summary>
    [Fact]
    public async Task A_failed_release_of_a_session_never_stored_does_not_fail_the_request_and_is_logged()
    {
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(TimeProvider.System)) { FailRelease = true };
        await using var host = await TestHost.StartAsync(configureStore: b => b.Services.AddSingleton<ISessionStateStore>(store));
        using var client = host.CreateClient();

        using var response = await client.GetAsync("/nothing");

        output.WriteLine($"{(int)response.StatusCode} after {store.FailedCalls} failed release(s)");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(SessionClient.SessionCookieOf(response));
        Assert.Equal(1, store.FailedCalls);
        Assert.True(TestLog.Has("UnstoredSessionReleaseFailed"));
    }
}
