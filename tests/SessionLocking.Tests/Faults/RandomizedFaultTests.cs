using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// The randomized fault test of "Airtight lock lifecycle": a seeded plan of operations (increments, reads,
/// Required reads, failing endpoints, RegenerateId with an increment, Abandon, unserializable values with and without
/// RegenerateId, a RegenerateId that outlives its lock, a Required request whose response the application started
/// early, Disabled and anonymous requests), each with a cancellation point (none, before send, while the lock is
/// taken, queued behind a slow holder, during the endpoint, during the write-back), run by 16 concurrent lanes over
/// 24 sessions (at most 4 requests of one session in flight; RegenerateId and Abandon run alone on their session),
/// on the in-memory store (one Kestrel host) and on Redis (two Kestrel hosts, one redis-server) while CLIENT PAUSE
/// (50-500 ms) and kills of the subscriber connections are injected. Every 250 operations traffic stops for a
/// quiet point.
/// </summary>
/// <remarks>
/// Invariants, checked while running, at every quiet point and at the end (every violation names the invariant,
/// store, session, the session's last requests, and the seed):
/// <list type="bullet">
/// <item>writers: never two Required executions of one session at once (WriterTracker, and each endpoint reports
/// the overlap it saw);</item>
/// <item>counter: every increment answered 2xx counted exactly once: each 2xx value is above the increments
/// acknowledged before it was sent, at most the increments sent, and unique; at the end
/// <c>acknowledged ≤ counter ≤ acknowledged + unknown</c>, where unknown are increments whose client left or got a
/// 500 (they may or may not have applied) and increments cancelled before sending or answered 409/429/503 count
/// as not applied; nothing a failing endpoint or an unserializable value changed is ever saved; a session is
/// never lost (a ReadOnly view never says new, an increment never gets a new cookie); RegenerateId moves the
/// counter and leaves nothing under the old id; Abandon leaves nothing;</item>
/// <item>fencing: a RegenerateId whose lock was force-released stores nothing under its new id, and a RegenerateId
/// answered non-2xx sends no cookie for a new id;</item>
/// <item>locks: at every quiet point (no request running on any server), every session id ever used, current or
/// retired, is taken by a Required request within 1 s: no lock outlives its request;</item>
/// <item>keys (Redis): requests that store nothing (anonymous Required and ReadOnly, failing, unserializable,
/// forged unknown id) leave no key in Redis (the session ids among the keys, by SCAN, before and after);</item>
/// <item>cookies: a request that stores nothing and succeeds gets no cookie.</item>
/// </list>
/// Environment: <c>SESSIONLOCKING_FAULT_SEED</c> replays a seed (the plan and the Redis fault schedule are the same;
/// the interleaving of the concurrent lanes is not, so a timing-dependent failure may need a few runs),
/// <c>SESSIONLOCKING_FAULT_OPS</c> is the number of operations per store (default 1,200),
/// <c>SESSIONLOCKING_FAULT_SKIP</c> (diagnosis only: it changes the plan) a comma-separated list of
/// <see cref="FaultOpKind"/> names left out, <see cref="FaultCancel"/> names replaced by no cancellation, and
/// <c>Pause</c> / <c>SubscriberKill</c> for Redis faults not injected.
/// </remarks>
[Collection(SerialFaults.Name)]
public sealed partial class RandomizedFaultTests(ITestOutputHelper output)
{
    private const string SeedVariable = "SESSIONLOCKING_FAULT_SEED";
    private const string OpsVariable = "SESSIONLOCKING_FAULT_OPS";
    private const string SkipVariable = "SESSIONLOCKING_FAULT_SKIP";
    private const int DefaultOpsPerStore = 1200;
    private const int Slots = 24;
    private const int Lanes = 16;
    private const int OpsBetweenQuietPoints = 250;
    private const int MaxInFlightPerSlot = 4;
    private const int MaxValueBytes = 4096;
    private static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan LockWaitTimeout = TimeSpan.FromSeconds(0.6);
    private static readonly TimeSpan RunCap = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan LockCheckLimit = TimeSpan.FromSeconds(1);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>One seed for the whole test process, so both facts of a run share it.</summary>
    private static readonly Lazy<int> ProcessSeed = new(() =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : Random.Shared.Next(1, int.MaxValue));

    [Fact]
    public Task In_memory_store_keeps_every_invariant_under_random_cancellations_and_failures() => RunAsync(redis: false);

    [Fact]
    public Task Redis_store_on_two_servers_keeps_every_invariant_under_random_cancellations_pauses_and_subscriber_kills() => RunAsync(redis: true);

    private async Task RunAsync(bool redis)
    {
        var seed = ProcessSeed.Value;
        var count = int.TryParse(Environment.GetEnvironmentVariable(OpsVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : DefaultOpsPerStore;
        var skip = (Environment.GetEnvironmentVariable(SkipVariable) ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var skipped = skip.Where(name => Enum.TryParse<FaultOpKind>(name, ignoreCase: true, out _)).Select(name => Enum.Parse<FaultOpKind>(name, ignoreCase: true)).ToHashSet();
        var uncancelled = skip.Where(name => Enum.TryParse<FaultCancel>(name, ignoreCase: true, out _)).Select(name => Enum.Parse<FaultCancel>(name, ignoreCase: true)).ToHashSet();
        var injected = new RedisFaults(
            Pauses: !skip.Contains("Pause", StringComparer.OrdinalIgnoreCase),
            SubscriberKills: !skip.Contains("SubscriberKill", StringComparer.OrdinalIgnoreCase));
        var unknown = skip.Where(name => !Enum.TryParse<FaultOpKind>(name, ignoreCase: true, out _) && !Enum.TryParse<FaultCancel>(name, ignoreCase: true, out _)
                                         && !name.Equals("Pause", StringComparison.OrdinalIgnoreCase) && !name.Equals("SubscriberKill", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.True(unknown.Length == 0, $"{SkipVariable}: unknown names {string.Join(", ", unknown)} (operation kinds, cancellation points, Pause, SubscriberKill)");
        var store = redis ? "redis" : "in-memory";
        var replay = $"{SeedVariable}={seed} {OpsVariable}={count}" + (skip.Length > 0 ? $" {SkipVariable}={string.Join(',', skip)}" : "");
        output.WriteLine($"randomized fault test, {store} store: seed {seed} (replay: {replay} dotnet test --filter \"FullyQualifiedName~RandomizedFault\")");

        var clock = Stopwatch.StartNew();
        await using var run = await FaultRun.StartAsync(redis, seed, store, injected, output);
        var plan = FaultPlan.Generate(seed, count, Slots, run.Hosts.Length, skipped, uncancelled);
        await run.CreateSessionsAsync();

        var executed = await run.ExecuteAsync(plan);
        var loadTime = clock.Elapsed;
        await run.CheckAtEndAsync();

        output.WriteLine($"{executed} of {plan.Count} operations in {loadTime.TotalSeconds:0.0} s, {clock.Elapsed.TotalSeconds:0.0} s with the end checks");
        run.Report();
        var violations = run.Violations;
        if (violations.Count > 0)
        {
            // Each lock that outlives its request stalls its session until the lock's timeout: on a faulty build fewer
            // operations may fit in the time cap, which is then only mentioned.
            var byInvariant = violations.GroupBy(v => v.Invariant).Select(g => $"{g.Key}: {g.Count()}");
            Assert.Fail($"{violations.Count} invariant violations on the {store} store with seed {seed} (replay: {replay}; {executed} of {plan.Count} operations ran); " +
                        $"{string.Join(", ", byInvariant)}. First ones:{Environment.NewLine}" +
                        string.Join(Environment.NewLine, violations.Take(12).Select(v => "  " + v)));
        }

        Assert.True(executed >= Math.Min(plan.Count, 1000), $"only {executed} of {plan.Count} operations ran within {RunCap.TotalSeconds} s (seed {seed})");
    }

    /// <summary>Which Redis faults are injected (both unless left out for diagnosis).</summary>
    internal sealed record RedisFaults(bool Pauses, bool SubscriberKills);

    /// <summary>One invariant broken once.</summary>
    internal sealed record Violation(string Invariant, string Session, string Detail, int Seed, string Store)
    {
        public override string ToString() => $"[{Store}, seed {Seed}] {Invariant}: session {Session}: {Detail}";
    }
}
