using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Fail fast where the application wants it (issue 22): an endpoint's own lock wait limit
/// (<see cref="SessionStateAttribute.LockWaitTimeoutMilliseconds"/>, <c>WithSessionState(..., lockWaitTimeout)</c>)
/// overrides <see cref="LockedSessionOptions.LockWaitTimeout"/> for its requests only.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    /// <summary>The application's limit: far beyond anything the fast endpoints may wait.</summary>
    private static readonly TimeSpan PatientLimit = TimeSpan.FromSeconds(30);

    /// <summary>The limit the fast endpoints declare.</summary>
    private static readonly TimeSpan FastLimit = TimeSpan.FromMilliseconds(300);

    [Theory]
    [InlineData("/fail-fast")]
    [InlineData("/fail-fast-convention")]
    public async Task An_endpoint_with_its_own_lock_wait_limit_answers_503_at_that_limit_while_others_keep_waiting(string fastPath)
    {
        await using var host = await StartAsync(o => o.LockWaitTimeout = PatientLimit);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var holder = await host.HoldLockAsync(client);

        // First in line behind the holder: it asks the store itself, then waits only as long as its endpoint allows.
        var alone = await TimeFastRequestAsync(client, fastPath);

        // Behind a request that waits with the application's limit: that one keeps waiting after this one gave up.
        var patient = client.PostAsync("/set?key=a&value=2");
        await Until(() => coordinator.WaitingCount(id) == 1);
        var behindPatient = await TimeFastRequestAsync(client, fastPath);
        var patientStillWaiting = !patient.IsCompleted && coordinator.WaitingCount(id) == 1;

        host.Gate.Open();
        using var held = await holder;
        using var patientResponse = await patient;

        Output.WriteLine($"{fastPath}: 503 after {alone.TotalMilliseconds:0} ms alone, {behindPatient.TotalMilliseconds:0} ms behind a waiter");
        foreach (var answeredAfter in new[] { alone, behindPatient })
        {
            Assert.True(answeredAfter >= FastLimit - TimeSpan.FromMilliseconds(10), $"answered after {answeredAfter.TotalMilliseconds:0} ms, before its own limit");
            Assert.True(answeredAfter < TimeSpan.FromSeconds(10), $"answered after {answeredAfter.TotalMilliseconds:0} ms: not at its own limit (the application's is {PatientLimit.TotalSeconds} s)");
        }

        Assert.True(patientStillWaiting, "the request without a limit of its own stopped waiting when the fast one gave up");
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal(HttpStatusCode.OK, patientResponse.StatusCode);
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=fast"));
    }

    [Fact]
    public async Task An_endpoint_with_its_own_lock_wait_limit_runs_normally_when_nobody_holds_the_session()
    {
        await using var host = await StartAsync(o => o.LockWaitTimeout = PatientLimit);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var attribute = await client.PostAsync("/fail-fast");
        Assert.Equal(HttpStatusCode.OK, attribute.StatusCode);
        Assert.Equal("attribute", await client.GetJsonAsync<string>("/get?key=fast"));
        using var convention = await client.PostAsync("/fail-fast-convention");
        Assert.Equal(HttpStatusCode.OK, convention.StatusCode);
        Assert.Equal("convention", await client.GetJsonAsync<string>("/get?key=fast"));
    }

    /// <summary>Sends a request to a fast endpoint that must be answered 503; returns how long the answer took.</summary>
    private static async Task<TimeSpan> TimeFastRequestAsync(Infrastructure.SessionClient client, string fastPath)
    {
        var clock = Stopwatch.StartNew();
        using var response = await client.PostAsync(fastPath);
        var answeredAfter = clock.Elapsed;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("Timed out waiting for the session lock", await response.Content.ReadAsStringAsync());
        return answeredAfter;
    }
}
