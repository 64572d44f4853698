using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>Metrics, traces and the health check, observed the way an operations team would.</summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task Metrics_count_locks_waits_store_calls_and_bytes()
    {
        await using var host = await TestHost.StartAsync();
        var measurements = new ConcurrentBag<(string Instrument, double Value, string Tags)>();
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "SessionLocking" && instrument.Meter.Scope == factory)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, Describe(tags))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, Describe(tags))));
        listener.Start();
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=a&value=hello")).Dispose();
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.PostJsonAsync<int>("/increment")));
        Assert.Equal("hello", await client.GetJsonAsync<string>("/get?key=a"));

        Assert.True(measurements.Count(m => m.Instrument == "sessionlocking.lock.acquired") >= 7);
        Assert.Contains(measurements, m => m.Instrument == "sessionlocking.lock.wait.duration" && m.Tags.Contains("required"));
        Assert.Contains(measurements, m => m.Instrument == "sessionlocking.lock.acquired" && m.Tags.Contains("read_only"));
        Assert.Contains(measurements, m => m.Instrument == "sessionlocking.store.duration" && m.Tags.Contains("get_exclusive"));
        Assert.Contains(measurements, m => m.Instrument == "sessionlocking.store.duration" && m.Tags.Contains("write_and_release"));
        Assert.Contains(measurements, m => m.Instrument == "sessionlocking.store.duration" && m.Tags.Contains("get_shared"));
        Assert.True(measurements.Where(m => m.Instrument == "sessionlocking.store.bytes_written").Sum(m => m.Value) > 0);
        Assert.True(measurements.Where(m => m.Instrument == "sessionlocking.store.bytes_read").Sum(m => m.Value) > 0);
    }

    [Fact]
    public async Task Traces_cover_acquire_load_write_back_and_release_without_the_session_id()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "SessionLocking",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await TestHost.StartAsync();
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        (await client.GetAsync("/nothing")).Dispose();
        var id = client.SessionId!;

        var mine = spans.Where(s => s.GetTagItem("sessionlocking.session") is string key && key.Length == 8).ToArray();
        Assert.Contains(mine, s => s.OperationName == "sessionlocking.acquire" && (string?)s.GetTagItem("sessionlocking.outcome") == "acquired");
        Assert.Contains(mine, s => s.OperationName == "sessionlocking.load" && (string?)s.GetTagItem("sessionlocking.behavior") == "required");
        Assert.Contains(mine, s => s.OperationName == "sessionlocking.write_back" && (string?)s.GetTagItem("sessionlocking.outcome") == "written");
        Assert.Contains(mine, s => s.OperationName == "sessionlocking.release" && (string?)s.GetTagItem("sessionlocking.outcome") == "released");
        Assert.DoesNotContain(spans, s => s.Tags.Any(t => t.Value?.Contains(id, StringComparison.Ordinal) == true));
    }

    [Fact]
    public async Task Logs_the_events_ASP_NET_Core_session_logs_started_stored_and_expired_at_its_levels()
    {
        await using var host = await TestHost.StartAsync(configureServices: s => s.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug)));
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var key = new SessionLocking.Diagnostics.SessionKey(client.SessionId!).ToString();
        (await client.PostAsync("/set?key=b&value=2")).Dispose();
        (await client.GetAsync("/get?key=a")).Dispose(); // read-only: nothing stored

        var mine = TestLog.Events.Where(e => e.Message.Contains(key, StringComparison.Ordinal)).ToArray();
        var started = Assert.Single(mine, e => e.Id.Name == "SessionStarted");
        Assert.Equal(LogLevel.Information, started.Level);
        var stored = mine.Where(e => e.Id.Name == "SessionStored").ToArray();
        Assert.Equal(2, stored.Length);
        Assert.All(stored, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Contains("Count:1", stored[0].Message);
        Assert.Contains("Count:2", stored[1].Message);

        // A well-formed id the store does not know (expired, or never stored): ASP.NET Core's AccessingExpiredSession.
        var expiredId = SessionIds.Create();
        using var stale = host.CreateClient();
        stale.SessionId = expiredId;
        (await stale.GetAsync("/get?key=a")).Dispose();
        var expiredKey = new SessionLocking.Diagnostics.SessionKey(expiredId).ToString();
        var expired = Assert.Single(TestLog.Events, e => e.Id.Name == "AccessingExpiredSession" && e.Message.Contains(expiredKey, StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, expired.Level);
    }

    [Fact]
    public async Task The_health_check_reports_a_store_that_answers()
    {
        await using var host = await TestHost.StartAsync(configureServices: s => s.AddHealthChecks().AddLockedSessionStore());
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Contains("session-store", report.Entries.Keys);
    }

    [Fact]
    public async Task The_health_check_reports_a_store_that_fails()
    {
        await using var host = await TestHost.StartAsync(
            configureStore: b => b.Services.AddSingleton<ISessionStateStore, FailingStore>(),
            configureServices: s => s.AddHealthChecks().AddLockedSessionStore());
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("does not answer", report.Entries["session-store"].Description);
        using var client = host.CreateClient();
        using var response = await client.PostAsync("/set?key=a&value=1");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("The session store is unavailable.", await response.Content.ReadAsStringAsync());
    }

    private static string Describe(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>();
        foreach (var tag in tags)
        {
            parts.Add($"{tag.Key}={tag.Value}");
        }

        return string.Join(",", parts);
    }

    private sealed class FailingStore : ISessionStateStore
    {
        private static Exception Down() => new TimeoutException("store down (test)");

        public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) => throw Down();

        public ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) => throw Down();

        public ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) => throw Down();

        public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) => throw Down();

        public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) => throw Down();

        public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) => throw Down();

        public ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) => throw Down();
    }
}
