using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The holder is known (issue 22): the lock records its holder's endpoint, so a request that gives up waiting, its
/// 503 or 429, its log and its <c>Server-Timing</c> name the endpoint that holds the session and how long it has.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    /// <summary>How a holder on another server is named: the store's record of its route (the legacy store cannot keep one).</summary>
    protected virtual string RemoteHolder(string route) => route;

    [Fact]
    public async Task A_waiter_that_times_out_on_another_server_names_the_holders_route_in_its_log_body_and_Server_Timing()
    {
        await using var first = await StartAsync(o =>
        {
            o.ServerTiming = true;
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        });
        await using var second = await StartAsync(
            o => o.ServerTiming = true,
            services => ShareStore(first.Services.GetRequiredService<ISessionStateStore>(), services));
        using var client = first.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        using var elsewhere = second.CreateClient();
        elsewhere.SessionId = id;
        var holder = await first.HoldLockAsync(client);

        using var remote = await elsewhere.PostAsync("/fail-fast");
        using var local = await client.PostAsync("/fail-fast");
        first.Gate.Open();
        using var held = await holder;

        var remoteBody = await remote.Content.ReadAsStringAsync();
        var localBody = await local.Content.ReadAsStringAsync();
        Output.WriteLine($"remote: {remoteBody} | {string.Join(", ", remote.Headers.GetValues("Server-Timing"))}");
        Output.WriteLine($"local: {localBody} | {string.Join(", ", local.Headers.GetValues("Server-Timing"))}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, remote.StatusCode);
        Assert.StartsWith("Timed out waiting for the session lock", remoteBody);
        Assert.Contains($"The lock is held by {RemoteHolder("/hold")} (for ", remoteBody);
        Assert.Equal(RemoteHolder("/hold"), WaitDescription(remote));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, local.StatusCode);
        Assert.Contains("The lock is held by /hold (for ", localBody);
        Assert.Equal("/hold", WaitDescription(local));

        // How long the holder had held it: at least the 300 ms the waiter waited.
        var heldSeconds = double.Parse(Regex.Match(remoteBody, @"\(for ([0-9.]+) s\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(heldSeconds, 0.25, 30);

        var key = new SessionKey(id).ToString();
        var logged = TestLog.Events.Where(e => e.Id.Name == "LockWaitTimedOut" && e.Message.Contains(key, StringComparison.Ordinal)).Select(e => e.Message).ToArray();
        Output.WriteLine(string.Join(Environment.NewLine, logged));
        Assert.Contains(logged, m => m.Contains($"held by {RemoteHolder("/hold")} (for ", StringComparison.Ordinal));
        Assert.Contains(logged, m => m.Contains("held by /hold (for ", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
    }

    [Fact]
    public async Task The_503_is_problem_details_naming_the_holder_when_the_application_uses_them()
    {
        await using var host = await StartAsync(o => o.LockWaitTimeout = TimeSpan.FromSeconds(30), services => services.AddProblemDetails());
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client);

        using var gaveUp = await client.PostAsync("/fail-fast");
        host.Gate.Open();
        (await holder).Dispose();

        var body = await gaveUp.Content.ReadAsStringAsync();
        Output.WriteLine(body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, gaveUp.StatusCode);
        Assert.Equal("application/problem+json", gaveUp.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Timed out waiting for the session lock: another request of this session holds it.", problem.RootElement.GetProperty("title").GetString());
        Assert.Equal("/hold", problem.RootElement.GetProperty("sessionLockHolder").GetString());
        Assert.InRange(problem.RootElement.GetProperty("sessionLockHeldMilliseconds").GetDouble(), 250, 30_000);
    }

    [Fact]
    public async Task The_lock_histograms_carry_the_route_pattern_and_the_behaviour()
    {
        await using var host = await StartAsync(o => o.LockWaitTimeout = TimeSpan.FromSeconds(30));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        var measured = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, double Seconds, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory)
                    && instrument.Name is SessionLockingTelemetry.LockWaitDuration or SessionLockingTelemetry.LockHoldDuration)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            measured.Enqueue((instrument.Name, value, map));
        });
        listener.Start();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var holder = await host.HoldLockAsync(client);
        var waiter = client.GetAsync("/get-required?key=a");
        await Until(() => coordinator.WaitingCount(id) == 1);
        host.Gate.Open();
        (await holder).Dispose();
        (await waiter).Dispose();

        var all = measured.ToArray();
        foreach (var m in all)
        {
            Output.WriteLine($"{m.Instrument} {m.Seconds * 1000:0} ms {string.Join(", ", m.Tags.Select(t => t.Key + "=" + t.Value))}");
        }

        Assert.Contains(all, m => m.Instrument == SessionLockingTelemetry.LockHoldDuration && Equals(m.Tags.GetValueOrDefault("http.route"), "/hold")
            && Equals(m.Tags.GetValueOrDefault(SessionLockingTelemetry.BehaviorTag), "required") && m.Seconds > 0);
        Assert.Contains(all, m => m.Instrument == SessionLockingTelemetry.LockWaitDuration && Equals(m.Tags.GetValueOrDefault("http.route"), "/get-required")
            && Equals(m.Tags.GetValueOrDefault(SessionLockingTelemetry.BehaviorTag), "required") && m.Seconds > 0);
        Assert.Contains(all, m => m.Instrument == SessionLockingTelemetry.LockHoldDuration && Equals(m.Tags.GetValueOrDefault("http.route"), "/set"));

        // Never the raw path: the query and the session are nowhere in the tags.
        Assert.DoesNotContain(all, m => m.Tags.Values.Any(v => v is string s && (s.Contains('?') || s.Contains(id, StringComparison.Ordinal))));
    }

    /// <summary>The <c>desc</c> of the response's <c>session-wait</c> entry (unquoted), or null.</summary>
    private static string? WaitDescription(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values))
        {
            return null;
        }

        var match = Regex.Match(string.Join(", ", values), @"session-wait;dur=[0-9.]+;desc=""((?:[^""\\]|\\.)*)""");
        return match.Success ? Regex.Unescape(match.Groups[1].Value.Replace("\\\"", "\"", StringComparison.Ordinal)) : null;
    }
}
