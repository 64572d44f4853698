using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>Issue 22: a failed early write-back surfaces where <c>ReleaseSessionAsync</c> was awaited, not at the end of the request.</summary>
public sealed class EarlyReleaseFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_failed_early_write_back_throws_to_the_caller_and_the_end_of_the_request_writes_nothing_more()
    {
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await TestHost.StartAsync(
            configureStore: b => b.Services.AddSingleton<ISessionStateStore>(store),
            configureApp: app => app.MapPost("/release-failing", async (HttpContext context) =>
            {
                context.GetSessionState()["early"] = "x";
                store.FailWriteBack = true;
                string outcome;
                try
                {
                    await context.ReleaseSessionAsync();
                    outcome = "released";
                }
                catch (IOException ex)
                {
                    outcome = "caught: " + ex.Message;
                }

                store.FailWriteBack = false;
                await context.Response.WriteAsync(outcome);
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var response = await client.PostAsync("/release-failing");
        var body = await response.Content.ReadAsStringAsync();

        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("caught: The test store refuses the write-back", body);

        // Nothing was saved, early or at the end, and the lock was given back (the next Required request runs).
        using var next = await client.PostAsync("/set?key=b&value=2");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Null(await client.GetJsonAsync<string>("/get?key=early"));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }
}
