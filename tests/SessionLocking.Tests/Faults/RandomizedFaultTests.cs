using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;
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
public sealed class RandomizedFaultTests(ITestOutputHelper output)
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

    /// <summary>What the client saw: a status and headers, or that it never sent, or that it gave up or lost the connection.</summary>
    internal sealed record Reply(bool Sent, int? Status, string? Cookie, string? Counter, string? Overlap, string Body, bool Complete, string? Error, TimeSpan Elapsed)
    {
        public bool Is2xx => Status is >= 200 and < 300;

        public override string ToString() =>
            (!Sent ? "not sent" : Status is { } s ? s.ToString(CultureInfo.InvariantCulture) + (Complete ? "" : " (body cut off)") : "no answer") +
            (Error is not null ? $" [{Error}]" : "") + $" after {Elapsed.TotalMilliseconds:0} ms" +
            (Counter is not null ? $" counter {Counter}" : "") + (Cookie is not null ? $" cookie '{Cookie}'" : "") +
            (Body.Length > 0 && Body.Length < 200 ? $" '{Body}'" : "");
    }

    private enum Applied
    {
        Yes,
        No,
        Unknown,
    }

    /// <summary>Accounting of one session id: increments acknowledged, unknown, sent, and the values the 2xx answers carried.</summary>
    private sealed class Ledger(string id, int slot, int generation)
    {
        public string Id { get; } = id;

        public int Slot { get; } = slot;

        public int Generation { get; } = generation;

        public long Acked;
        public long Unknown;
        public long Sent;
        public bool Retired;
        public readonly HashSet<int> Values = new();
        public readonly ConcurrentQueue<(TimeSpan At, string What)> History = new();

        public string LastRequests => string.Join(" | ", History.ToArray().OrderBy(h => h.At).Select(h => $"t={h.At.TotalSeconds:0.000}s {h.What}"));
        public DateTime LockFailureReportedAt = DateTime.MinValue;

        public void Note(TimeSpan at, string what)
        {
            History.Enqueue((at, what.Length > 150 ? what[..150] + "…" : what));
            while (History.Count > 10)
            {
                History.TryDequeue(out _);
            }
        }

        public string Name => $"{Id} (slot {Slot}, generation {Generation}{(Retired ? ", retired" : "")})";
    }

    /// <summary>A logical session: its current id, and a gate that lets identity changes (RegenerateId, Abandon) run alone.</summary>
    private sealed class Slot(int index)
    {
        private readonly SemaphoreSlim _permits = new(MaxInFlightPerSlot, MaxInFlightPerSlot);
        private readonly SemaphoreSlim _exclusive = new(1, 1);

        public int Index { get; } = index;

        public Ledger? Current;
        public int Generations;

        public async Task<IAsyncDisposable> SharedAsync()
        {
            await _exclusive.WaitAsync();
            try
            {
                await _permits.WaitAsync();
            }
            finally
            {
                _exclusive.Release();
            }

            return new Permits(_permits, 1);
        }

        public async Task<IAsyncDisposable> ExclusiveAsync()
        {
            await _exclusive.WaitAsync();
            try
            {
                for (var i = 0; i < MaxInFlightPerSlot; i++)
                {
                    await _permits.WaitAsync();
                }
            }
            finally
            {
                _exclusive.Release();
            }

            return new Permits(_permits, MaxInFlightPerSlot);
        }

        private sealed class Permits(SemaphoreSlim semaphore, int count) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                semaphore.Release(count);
                return ValueTask.CompletedTask;
            }
        }
    }

    /// <summary>
    /// Counts the requests running on one server (outside the session middleware), maps a lost lock to 409, and
    /// starts the response before the session middleware runs when a request asks for it (<see cref="StartEarlyHeader"/>).
    /// </summary>
    private sealed class HostProbe
    {
        public const string StartEarlyHeader = "X-Start-Response-Early";
        public int InFlight;
        public readonly ConcurrentDictionary<HttpContext, (Stopwatch Since, string What)> Running = new();

        /// <summary>The requests running now: path, cookie, age, and whether the server knows the client left.</summary>
        public IEnumerable<string> Describe() =>
            Running.Select(r => $"{r.Value.What} running {r.Value.Since.ElapsedMilliseconds} ms, client gone: {r.Key.RequestAborted.IsCancellationRequested}");

        public void Install(WebApplication app) => app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref InFlight);
            Running[context] = (Stopwatch.StartNew(), $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString} cookie {context.Request.Cookies[SessionClient.CookieName] ?? "none"}");
            try
            {
                if (context.Request.Headers.ContainsKey(StartEarlyHeader))
                {
                    context.Response.ContentType = "text/plain";
                    await context.Response.StartAsync();
                }

                await next(context);
            }
            catch (SessionLockLostException) when (!context.Response.HasStarted)
            {
                // The documented way for an application to surface a rejected (fenced) write-back.
                context.Response.Clear();
                context.Response.StatusCode = StatusCodes.Status409Conflict;
                await context.Response.WriteAsync("The session lock was lost; the changes were not saved.");
            }
            finally
            {
                Running.TryRemove(context, out _);
                Interlocked.Decrement(ref InFlight);
            }
        });
    }

    /// <summary>One store's run: hosts, HTTP clients, sessions, the fault injector, the ledgers and the violations.</summary>
    private sealed class FaultRun : IAsyncDisposable
    {
        private static readonly Regex SessionIdInKey = new("[a-z0-5]{24}", RegexOptions.CultureInvariant);
        private readonly ConcurrentQueue<Violation> _violations = new();
        private readonly ConcurrentDictionary<string, int> _outcomes = new();
        private readonly List<Ledger> _ledgers = new();
        private readonly Slot[] _slots = Enumerable.Range(0, Slots).Select(i => new Slot(i)).ToArray();
        private readonly int _seed;
        private readonly string _store;
        private readonly ITestOutputHelper _output;
        private readonly RedisServer? _redis;
        private readonly string _prefix;
        private readonly HostProbe[] _probes;
        private readonly HttpClient[] _clients;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<(TimeSpan At, string What)> _faultLog = new();
        private RedisFaults _injected = new(true, true);
        private Random? _faultRandom;
        private int _pauses;
        private int _pausedMs;
        private int _subscriberKills;
        private int _killRoundsWithoutSubscriber;

        private FaultRun(int seed, string store, ITestOutputHelper output, RedisServer? redis, string prefix, TestHost[] hosts, HostProbe[] probes, WriterTracker tracker)
        {
            _seed = seed;
            _store = store;
            _output = output;
            _redis = redis;
            _prefix = prefix;
            Hosts = hosts;
            _probes = probes;
            Tracker = tracker;
            _clients = hosts.Select(h => new HttpClient(new SocketsHttpHandler
            {
                UseCookies = false,
                MaxConnectionsPerServer = 256,
                MaxResponseDrainSize = 0, // a response left unread closes its connection: the server sees the client leave
                AllowAutoRedirect = false,
            })
            {
                BaseAddress = h.Address,
                Timeout = Timeout.InfiniteTimeSpan,
            }).ToArray();
        }

        public TestHost[] Hosts { get; }

        public WriterTracker Tracker { get; }

        public IReadOnlyList<Violation> Violations => _violations.ToArray();

        public static async Task<FaultRun> StartAsync(bool redis, int seed, string store, RedisFaults injected, ITestOutputHelper output)
        {
            var tracker = new WriterTracker();
            var prefix = "rf-" + Guid.NewGuid().ToString("N")[..8];
            void Options(LockedSessionOptions o)
            {
                o.ExecutionTimeout = ExecutionTimeout;
                o.LockWaitTimeout = LockWaitTimeout;
                o.MaxValueBytes = MaxValueBytes;
            }

            if (!redis)
            {
                var probe = new HostProbe();
                var host = await TestHost.StartAsync(
                    Options,
                    configureStore: null,
                    services =>
                    {
                        services.Configure<LoggerFilterOptions>(o => o.MinLevel = LogLevel.Warning);
                        services.AddSingleton(tracker);
                    },
                    app =>
                    {
                        app.MapFaultEndpoints();
                        app.MapRandomizedFaultEndpoints();
                    },
                    probe.Install);
                return new FaultRun(seed, store, output, null, prefix, [host], [probe], tracker) { _injected = injected };
            }

            var server = await RedisServer.StartAsync();
            var probes = new[] { new HostProbe(), new HostProbe() };
            var hosts = new TestHost[2];
            try
            {
                for (var i = 0; i < hosts.Length; i++)
                {
                    hosts[i] = await FaultKit.StartHostAsync(
                        server.Configuration,
                        prefix,
                        Options,
                        operationTimeout: TimeSpan.FromSeconds(2),
                        tracker: tracker,
                        beforeSession: probes[i].Install,
                        app: a => a.MapRandomizedFaultEndpoints(),
                        minimumLogLevel: LogLevel.Warning);
                }
            }
            catch
            {
                foreach (var host in hosts.Where(h => h is not null))
                {
                    await host.DisposeAsync();
                }

                await server.DisposeAsync();
                throw;
            }

            return new FaultRun(seed, store, output, server, prefix, hosts, probes, tracker) { _injected = injected };
        }

        /// <summary>Gives every slot a stored session (counter 1).</summary>
        public async Task CreateSessionsAsync()
        {
            foreach (var slot in _slots)
            {
                await NewSessionAsync(slot, slot.Index % Hosts.Length, "initial session");
            }
        }

        /// <summary>Runs the plan on concurrent lanes (and, on Redis, the fault injector); returns how many operations ran.</summary>
        public async Task<int> ExecuteAsync(IReadOnlyList<FaultOp> plan)
        {
            var next = -1;
            var executed = 0;
            for (var quietPoint = 1; next + 1 < plan.Count && _clock.Elapsed < RunCap; quietPoint++)
            {
                var end = Math.Min(plan.Count, quietPoint * OpsBetweenQuietPoints);
                using var stopFaults = new CancellationTokenSource();
                var faults = _redis is null ? Task.CompletedTask : Task.Run(() => InjectFaultsAsync(_redis, stopFaults.Token));
                var lanes = Enumerable.Range(0, Lanes).Select(_ => Task.Run(async () =>
                {
                    while (_clock.Elapsed < RunCap)
                    {
                        var index = Interlocked.Increment(ref next);
                        if (index >= end)
                        {
                            Interlocked.Exchange(ref next, end - 1);
                            return;
                        }

                        await RunOpAsync(plan[index]);
                        Interlocked.Increment(ref executed);
                    }
                })).ToArray();
                try
                {
                    await Task.WhenAll(lanes);
                }
                finally
                {
                    await stopFaults.CancelAsync();
                    await faults;
                }

                // A quiet point: traffic stops, and every lock must be free within 1 s.
                await QuietPointAsync($"quiet point {quietPoint} (after op #{end - 1})");
            }

            return executed;
        }

        /// <summary>Waits until no request runs on any server, then takes every session ever used (current and retired) with a Required request.</summary>
        private async Task QuietPointAsync(string when)
        {
            var settle = Stopwatch.StartNew();
            var described = false;
            while (_probes.Any(p => Volatile.Read(ref p.InFlight) > 0) && settle.Elapsed < TimeSpan.FromSeconds(15))
            {
                if (!described && settle.Elapsed > TimeSpan.FromMilliseconds(300))
                {
                    // Not an invariant (a request whose client left may finish its work), but worth seeing.
                    described = true;
                    _output.WriteLine($"{when}: still running 300 ms after the last client finished: {string.Join("; ", _probes.SelectMany(p => p.Describe()))}");
                }

                await Task.Delay(10);
            }

            if (_probes.Any(p => Volatile.Read(ref p.InFlight) > 0))
            {
                Violate("traffic stops", "-", $"{when}: requests still running 15 s after the last client finished: {string.Join(", ", _probes.Select(p => p.InFlight))}");
            }

            var settled = settle.Elapsed;
            Ledger[] all;
            lock (_ledgers)
            {
                all = _ledgers.ToArray();
            }

            var slowest = TimeSpan.Zero;
            var failed = 0;
            var stillLocked = 0;
            var at = _clock.Elapsed;
            foreach (var batch in all.Chunk(24))
            {
                await Task.WhenAll(batch.Select(async (ledger, i) =>
                {
                    var host = (ledger.Generation + i) % Hosts.Length;
                    // Within 1 s in all: a 503 (the server's own wait limit is shorter) is asked again while time is left.
                    var budget = Stopwatch.StartNew();
                    Reply reply;
                    do
                    {
                        reply = await SendAsync(host, HttpMethod.Get, "/get-required?key=w", ledger.Id, FaultCancel.None, 0, LockCheckLimit - budget.Elapsed);
                    }
                    while (reply.Status == 503 && budget.Elapsed < LockCheckLimit - TimeSpan.FromMilliseconds(20));

                    reply = reply with { Elapsed = budget.Elapsed };
                    lock (all)
                    {
                        slowest = reply.Elapsed > slowest ? reply.Elapsed : slowest;
                    }

                    if (reply.Is2xx && reply.Complete)
                    {
                        return;
                    }

                    Interlocked.Increment(ref failed);
                    lock (ledger)
                    {
                        // A lock already reported at an earlier quiet point may still be there (it lives until its TTL): report it once.
                        if (DateTime.UtcNow - ledger.LockFailureReportedAt < ExecutionTimeout + TimeSpan.FromSeconds(2))
                        {
                            Interlocked.Increment(ref stillLocked);
                            return;
                        }

                        ledger.LockFailureReportedAt = DateTime.UtcNow;
                    }

                    Violate("no lock outlives its request", ledger.Name,
                        $"{when}, t={at.TotalSeconds:0.000}s: once traffic stopped, a Required request on server {host} did not get the session within {LockCheckLimit.TotalSeconds} s: {reply}. " +
                        $"The session's last requests (by send time): {ledger.LastRequests}. Redis faults around them: {FaultsAround(ledger)}");
                }));
            }

            _output.WriteLine($"{when}: traffic stopped {settled.TotalMilliseconds:0} ms after the last client finished; {all.Length} session ids taken, slowest {slowest.TotalMilliseconds:0} ms, {failed} not within {LockCheckLimit.TotalSeconds} s ({stillLocked} of them already reported)");
        }

        private string FaultsAround(Ledger ledger)
        {
            var history = ledger.History.ToArray();
            if (history.Length == 0)
            {
                return "none";
            }

            var from = history.Min(h => h.At) - TimeSpan.FromSeconds(0.6);
            var to = history.Max(h => h.At) + TimeSpan.FromSeconds(0.1);
            lock (_faultLog)
            {
                var around = _faultLog.Where(f => f.At >= from && f.At <= to).Select(f => $"t={f.At.TotalSeconds:0.000}s {f.What}").ToArray();
                return around.Length == 0 ? "none" : string.Join(", ", around);
            }
        }

        /// <summary>The end checks, after the last quiet point (traffic stopped, every lock free within 1 s): counters; writers; keys.</summary>
        public async Task CheckAtEndAsync()
        {
            // The last quiet point ran the lock check once traffic stopped.
            // Counters: acknowledged ≤ counter ≤ acknowledged + unknown; nothing a failed request changed was saved.
            foreach (var slot in _slots)
            {
                var ledger = slot.Current;
                if (ledger is null)
                {
                    continue;
                }

                var reply = await SendAsync(slot.Index % Hosts.Length, HttpMethod.Get, "/faults/rand/state", ledger.Id, FaultCancel.None, 0, TimeSpan.FromSeconds(20));
                var state = reply.Is2xx && reply.Complete ? JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(reply.Body, Json) : null;
                if (state is null)
                {
                    Violate("counter", ledger.Name, $"the final read failed: {reply}");
                    continue;
                }

                _output.WriteLine($"  slot {slot.Index} generation {ledger.Generation}: counter {state.Counter}, acknowledged {ledger.Acked}, unknown {ledger.Unknown}, sent {ledger.Sent}");
                CheckState(ledger, state, ledger.Acked, ledger.Acked + ledger.Unknown, "at the end");
            }

            if (Tracker.Violations > 0)
            {
                Violate("never two Required executions at once", "(WriterTracker does not say which)",
                    $"WriterTracker saw {Tracker.Violations} times a second Required request of one session inside the endpoint");
            }

            if (_redis is not null)
            {
                await CheckNoKeysForUnstoredSessionsAsync(_redis);
            }
        }

        public void Report()
        {
            if (_redis is not null)
            {
                _output.WriteLine($"faults: {_pauses} CLIENT PAUSE ({_pausedMs} ms paused in all), {_subscriberKills} subscriber connections killed, {_killRoundsWithoutSubscriber} kill rounds found no subscriber");
            }

            foreach (var (key, count) in _outcomes.OrderBy(o => o.Key, StringComparer.Ordinal))
            {
                _output.WriteLine($"  {key}: {count}");
            }

            var violations = Violations;
            _output.WriteLine($"{violations.Count} violations");
            foreach (var violation in violations.Take(200))
            {
                _output.WriteLine("  " + violation);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }

            foreach (var host in Hosts)
            {
                await host.DisposeAsync();
            }

            if (_redis is not null)
            {
                await _redis.DisposeAsync();
            }
        }

        private async Task RunOpAsync(FaultOp op)
        {
            var slot = _slots[op.Slot];
            switch (op.Kind)
            {
                case FaultOpKind.RegenerateIncrement:
                    await using (await slot.ExclusiveAsync())
                    {
                        await RegenerateAsync(slot, op);
                    }

                    return;
                case FaultOpKind.SlowRegenerate:
                    await using (await slot.ExclusiveAsync())
                    {
                        await SlowRegenerateAsync(slot, op);
                    }

                    return;
                case FaultOpKind.Abandon:
                    await using (await slot.ExclusiveAsync())
                    {
                        await AbandonAsync(slot, op);
                    }

                    return;
                case FaultOpKind.Anonymous:
                    await AnonymousAsync(op.Host, op.Variant, op.ToString());
                    return;
            }

            await using var permit = await slot.SharedAsync();
            var ledger = slot.Current;
            if (ledger is null)
            {
                return; // the slot lost its session and could not get a new one (reported then)
            }

            switch (op.Kind)
            {
                case FaultOpKind.Increment when op.Cancel == FaultCancel.Waiting:
                {
                    // A slow holder first; once it is inside, a second increment queues behind it and gives up.
                    var holder = IncrementAsync(ledger, op.Host, op.HolderMs, FaultCancel.None, 0, op + " (holder)");
                    await Task.Delay(25);
                    var waiter = IncrementAsync(ledger, (op.Host + 1) % Hosts.Length, 0, FaultCancel.Waiting, op.CancelMs, op + " (waiter)");
                    await Task.WhenAll(holder, waiter);
                    break;
                }

                case FaultOpKind.Increment:
                    await IncrementAsync(ledger, op.Host, op.EndpointMs, op.Cancel, op.CancelMs, op.ToString(), op.Variant switch { 1 => "complete", 2 => "no-content", _ => null });
                    break;
                case FaultOpKind.Read:
                    await ReadAsync(ledger, op);
                    break;
                case FaultOpKind.RequiredRead:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/get-required?key=w", ledger.Id, op.Cancel, op.CancelMs);
                    Record("required read", reply, ledger, op.ToString());
                    break;
                }

                case FaultOpKind.Throw:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/throw?ms={op.EndpointMs}", ledger.Id, op.Cancel, op.CancelMs);
                    Record("throw", reply, ledger, op.ToString());
                    if (reply.Is2xx)
                    {
                        Violate("failed endpoint not saved", ledger.Name, $"an endpoint that threw was answered {reply} ({op})");
                    }

                    break;
                }

                case FaultOpKind.BadValue or FaultOpKind.BadValueRegenerate:
                {
                    var regenerate = op.Kind == FaultOpKind.BadValueRegenerate;
                    var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/bad-value?bytes={MaxValueBytes}&regenerate={(regenerate ? "true" : "false")}", ledger.Id, op.Cancel, op.CancelMs);
                    Record(regenerate ? "bad value + regenerate" : "bad value", reply, ledger, op.ToString());
                    CheckNoNewIdOnFailure(ledger, reply, op.ToString());
                    if (reply.Is2xx)
                    {
                        Violate("unserializable value not saved", ledger.Name, $"a write-back that cannot serialize was answered {reply} ({op})");
                    }

                    break;
                }

                case FaultOpKind.ResponseStartedEarly:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/get-required?key=w", ledger.Id, FaultCancel.None, 0, startEarly: true);
                    Record("Required, response started early", reply, ledger, op.ToString());
                    break;
                }

                case FaultOpKind.Disabled:
                {
                    var reply = await SendAsync(op.Host, HttpMethod.Get, "/disabled", ledger.Id, op.Cancel, op.CancelMs);
                    Record("disabled", reply, ledger, op.ToString());
                    break;
                }
            }
        }

        /// <summary>One increment of a session and its accounting.</summary>
        /// <param name="end">How the endpoint ends its response before the write-back (see the increment endpoint); null: after it.</param>
        private async Task<Reply> IncrementAsync(Ledger ledger, int host, int endpointMs, FaultCancel cancel, int cancelMs, string op, string? end = null)
        {
            var flush = cancel == FaultCancel.WriteBack;
            long ackedBefore;
            lock (ledger)
            {
                ackedBefore = ledger.Acked;
                if (cancel != FaultCancel.BeforeSend)
                {
                    ledger.Sent++;
                }
            }

            var reply = await SendAsync(host, HttpMethod.Post, $"/faults/rand/increment?ms={endpointMs}{(flush ? "&flush=true" : "")}{(end is null ? "" : "&end=" + end)}", ledger.Id, cancel, cancelMs);
            Record("increment" + (end is null ? "" : ", " + end) + ", cancel " + cancel, reply, ledger, op);
            Account(ledger, reply, ackedBefore, op, "increment");
            return reply;
        }

        private void Account(Ledger ledger, Reply reply, long ackedBefore, string op, string what)
        {
            if (reply.Overlap is not null)
            {
                Violate("never two Required executions at once", ledger.Name, $"the {what} saw another Required request of its session inside the endpoint ({op}): {reply}");
            }

            var applied = Classify(reply);
            if (applied == Applied.Yes && reply.Cookie is not null && reply.Cookie != ledger.Id && what == "increment")
            {
                Violate("session never lost", ledger.Name, $"an increment was answered with a new session's cookie: the session was not found ({op}): {reply}");
                return;
            }

            lock (ledger)
            {
                switch (applied)
                {
                    case Applied.Yes:
                        ledger.Acked++;
                        if (!int.TryParse(reply.Counter, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                        {
                            Violate("counter", ledger.Name, $"the {what} answered 2xx without a counter ({op}): {reply}");
                            return;
                        }

                        if (value <= ackedBefore)
                        {
                            Violate("counter", ledger.Name, $"lost update: the {what} answered 2xx with counter {value}, but {ackedBefore} increments were answered 2xx before it was sent ({op})");
                        }

                        if (value > ledger.Sent)
                        {
                            Violate("counter", ledger.Name, $"phantom update: the {what} answered 2xx with counter {value}, but only {ledger.Sent} increments were ever sent ({op})");
                        }

                        if (!ledger.Values.Add(value))
                        {
                            Violate("counter", ledger.Name, $"lost update: two increments were answered 2xx with the same counter {value} ({op})");
                        }

                        break;
                    case Applied.Unknown:
                        ledger.Unknown++;
                        break;
                }
            }
        }

        /// <summary>An increment answered 2xx counted; 409/429/503 or never sent did not; a 500 or a client that left may have.</summary>
        private static Applied Classify(Reply reply) =>
            !reply.Sent ? Applied.No
            : reply.Is2xx ? (reply.Complete ? Applied.Yes : Applied.Unknown)
            : reply.Status is 409 or 429 or 503 ? Applied.No
            : Applied.Unknown;

        private async Task ReadAsync(Ledger ledger, FaultOp op)
        {
            long ackedBefore;
            lock (ledger)
            {
                ackedBefore = ledger.Acked;
            }

            var reply = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", ledger.Id, op.Cancel == FaultCancel.Endpoint ? FaultCancel.Acquire : op.Cancel, op.CancelMs);
            Record("read-only, cancel " + op.Cancel, reply, ledger, op.ToString());
            if (!reply.Is2xx || !reply.Complete)
            {
                return;
            }

            var state = JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(reply.Body, Json)!;
            long sent;
            lock (ledger)
            {
                sent = ledger.Sent;
            }

            CheckState(ledger, state, ackedBefore, sent, $"read ({op})");
        }

        private void CheckState(Ledger ledger, FaultEndpoints.RandomizedStateView state, long atLeast, long atMost, string when)
        {
            if (state.IsNew)
            {
                Violate("session never lost", ledger.Name, $"a ReadOnly view {when} found no session (new): counter {state.Counter}, {atLeast} increments acknowledged");
                return;
            }

            if (state.Poison)
            {
                Violate("failed endpoint not saved", ledger.Name, $"a change made by an endpoint that threw was saved (seen {when})");
            }

            if (state.Bag)
            {
                Violate("unserializable value not saved", ledger.Name, $"an item whose write-back failed to serialize was saved (seen {when})");
            }

            if (state.Counter < atLeast)
            {
                Violate("counter", ledger.Name, $"lost update: counter {state.Counter} {when}, but {atLeast} increments were answered 2xx");
            }
            else if (state.Counter > atMost)
            {
                Violate("counter", ledger.Name, $"phantom update: counter {state.Counter} {when}, more than the {atMost} increments that were answered 2xx or may have applied");
            }
        }

        /// <summary>Counter + 1 and a new id in one request; the client follows the cookie only on 2xx; then an increment on the new id.</summary>
        private async Task RegenerateAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            long ackedBefore;
            lock (old)
            {
                ackedBefore = old.Acked;
                if (op.Cancel != FaultCancel.BeforeSend)
                {
                    old.Sent++;
                }
            }

            var reply = await SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/regenerate-increment?ms={op.EndpointMs}", old.Id, op.Cancel, op.CancelMs);
            Record("regenerate + increment, cancel " + op.Cancel, reply, old, op.ToString());
            CheckNoNewIdOnFailure(old, reply, op.ToString());
            if (reply.Overlap is not null)
            {
                Violate("never two Required executions at once", old.Name, $"RegenerateId saw another Required request inside ({op}): {reply}");
            }

            switch (Classify(reply))
            {
                case Applied.No:
                    return;
                case Applied.Unknown:
                    // The client cannot know which id holds its session now: it gives the session up and starts a new one.
                    lock (old)
                    {
                        old.Unknown++;
                        old.Retired = true;
                    }

                    await NewSessionAsync(slot, op.Host, op + " after an unknown RegenerateId");
                    return;
            }

            if (string.IsNullOrEmpty(reply.Cookie) || reply.Cookie == old.Id)
            {
                Violate("RegenerateId", old.Name, $"RegenerateId was answered 2xx without a new session cookie ({op}): {reply}");
                return;
            }

            Ledger moved;
            lock (old)
            {
                Account(old, reply, ackedBefore, op.ToString(), "RegenerateId increment");
                old.Retired = true;
                moved = new Ledger(reply.Cookie, slot.Index, ++slot.Generations) { Acked = old.Acked, Unknown = old.Unknown, Sent = old.Sent };
                moved.Values.UnionWith(old.Values);
            }

            Add(moved);
            slot.Current = moved;

            // The counter moved with the session: one more increment on the new id, then a read that must see both.
            await IncrementAsync(moved, (op.Host + 1) % Hosts.Length, 0, FaultCancel.None, 0, op + " (after RegenerateId)");
            await ReadAsync(moved, op with { Cancel = FaultCancel.None, CancelMs = 0 });
            var gone = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", old.Id, FaultCancel.None, 0);
            Record("read of the id given up by RegenerateId", gone, old, op.ToString());
            if (gone.Is2xx && gone.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(gone.Body, Json) is { IsNew: false } stale)
            {
                Violate("RegenerateId", old.Name, $"the old id still holds a session after RegenerateId answered 2xx (counter {stale.Counter}) ({op})");
            }
        }

        /// <summary>
        /// A RegenerateId that outlives its lock: it keeps the session past the execution timeout, a second request
        /// (on the other server when there are two) force-releases it and increments. The slow request's write-back
        /// is rejected (409): then nothing of it may be stored, not under the old id (the counter shows) and not
        /// under the new id its cookie names.
        /// </summary>
        private async Task SlowRegenerateAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            long ackedBefore;
            lock (old)
            {
                ackedBefore = old.Acked;
                old.Sent++;
            }

            var slowMs = (int)(ExecutionTimeout + TimeSpan.FromMilliseconds(500)).TotalMilliseconds;
            var slow = SendAsync(op.Host, HttpMethod.Post, $"/faults/rand/regenerate-increment?ms={slowMs}&untracked=true", old.Id, FaultCancel.None, 0);
            await Task.Delay(ExecutionTimeout - TimeSpan.FromMilliseconds(500));
            long waiterAckedBefore;
            lock (old)
            {
                waiterAckedBefore = old.Acked;
                old.Sent++;
            }

            var waiter = await SendAsync((op.Host + 1) % Hosts.Length, HttpMethod.Post, "/faults/rand/increment?ms=0", old.Id, FaultCancel.None, 0);
            var reply = await slow;
            Record("slow regenerate + increment", reply, old, op.ToString());
            Record("increment that force-releases the slow RegenerateId", waiter, old, op.ToString());
            if (reply.Is2xx)
            {
                // The slow one kept its lock after all (the waiter gave up first, e.g. the slow one had to queue): the
                // session moved; the waiter's increment may have found the old id gone. Start over rather than guess.
                lock (old)
                {
                    old.Unknown += 2;
                    old.Retired = true;
                }

                // Not an invariant: the waiter's own wait limit may end before the slow lock's age reaches the timeout.
                _output.WriteLine($"note: the slow RegenerateId kept its lock ({reply}); the request meant to force-release it: {waiter} ({op})");
                await NewSessionAsync(slot, op.Host, op + " after a slow RegenerateId");
                return;
            }

            Account(old, waiter, waiterAckedBefore, op + " (force-releases the slow RegenerateId)", "increment");
            CheckNoNewIdOnFailure(old, reply, op.ToString());
            if (Classify(reply) == Applied.Unknown)
            {
                lock (old)
                {
                    old.Unknown++;
                }
            }

            if (!string.IsNullOrEmpty(reply.Cookie) && reply.Cookie != old.Id)
            {
                var moved = await SendAsync(op.Host, HttpMethod.Get, "/faults/rand/state", reply.Cookie, FaultCancel.None, 0);
                Record("read of the new id of a rejected RegenerateId", moved, old, op.ToString());
                if (moved.Is2xx && moved.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(moved.Body, Json) is { IsNew: false } stored)
                {
                    Violate("RegenerateId fenced", old.Name,
                        $"a RegenerateId whose lock was force-released was answered {reply}, yet the session was stored under the new id {reply.Cookie} (counter {stored.Counter}, a copy taken before the increment that force-released it: {waiter}) ({op})");
                }
            }
        }

        /// <summary>
        /// A RegenerateId that failed (non-2xx) stored nothing under its new id, so its answer must not hand that id
        /// out: a browser follows a cookie whatever the status, and would leave its session.
        /// </summary>
        private void CheckNoNewIdOnFailure(Ledger ledger, Reply reply, string op)
        {
            if (reply.Status is { } status && !reply.Is2xx && !string.IsNullOrEmpty(reply.Cookie) && reply.Cookie != ledger.Id)
            {
                Violate("failed RegenerateId hands out no new id", ledger.Name,
                    $"a RegenerateId answered {status} carries a session cookie for the new id {reply.Cookie} ({op}): {reply}");
            }
        }

        /// <summary>Abandon; on 2xx the old id must be gone, and the slot starts a new session.</summary>
        private async Task AbandonAsync(Slot slot, FaultOp op)
        {
            var old = slot.Current;
            if (old is null)
            {
                return;
            }

            var reply = await SendAsync(op.Host, HttpMethod.Post, "/abandon", old.Id, op.Cancel, op.CancelMs);
            Record("abandon, cancel " + op.Cancel, reply, old, op.ToString());
            var applied = Classify(reply);
            if (applied == Applied.No)
            {
                return;
            }

            lock (old)
            {
                old.Retired = true;
            }

            if (applied == Applied.Yes)
            {
                var gone = await SendAsync((op.Host + 1) % Hosts.Length, HttpMethod.Get, "/faults/rand/state", old.Id, FaultCancel.None, 0);
                Record("read of an abandoned id", gone, old, op.ToString());
                if (gone.Is2xx && gone.Complete && JsonSerializer.Deserialize<FaultEndpoints.RandomizedStateView>(gone.Body, Json) is { IsNew: false } stale)
                {
                    Violate("Abandon", old.Name, $"the session is still there after Abandon answered 2xx (counter {stale.Counter}) ({op})");
                }
            }

            await NewSessionAsync(slot, op.Host, op + " after Abandon");
        }

        /// <summary>Creates a session for the slot with one increment (counter 1); retried until it is answered 2xx with a cookie.</summary>
        private async Task NewSessionAsync(Slot slot, int host, string why)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var reply = await SendAsync((host + attempt) % Hosts.Length, HttpMethod.Post, "/faults/rand/increment?ms=0", null, FaultCancel.None, 0);
                Record("new session", reply);
                if (Classify(reply) == Applied.Yes && !string.IsNullOrEmpty(reply.Cookie))
                {
                    var ledger = new Ledger(reply.Cookie, slot.Index, ++slot.Generations) { Acked = 1, Sent = 1 };
                    ledger.Values.Add(1);
                    if (reply.Counter != "1")
                    {
                        Violate("counter", ledger.Name, $"a new session's first increment answered counter {reply.Counter} ({why})");
                    }

                    ledger.Note(_clock.Elapsed - reply.Elapsed, $"created ({why}): {reply}");
                    Add(ledger);
                    slot.Current = ledger;
                    return;
                }

                await Task.Delay(50);
            }

            Violate("session creation", $"slot {slot.Index}", $"no new session after 20 attempts ({why})");
            slot.Current = null;
        }

        /// <summary>A request that stores nothing: it must succeed (or fail as designed) without a cookie.</summary>
        private async Task<Reply> AnonymousAsync(int host, int variant, string op)
        {
            var forged = UnissuedSessionId();
            var (method, path, cookie, name) = variant switch
            {
                0 => (HttpMethod.Get, "/get-required?key=w", (string?)null, "anonymous Required"),
                1 => (HttpMethod.Get, "/faults/rand/state", null, "anonymous ReadOnly"),
                2 => (HttpMethod.Post, "/faults/rand/throw?ms=0", null, "anonymous throw"),
                3 => (HttpMethod.Post, $"/faults/rand/bad-value?bytes={MaxValueBytes}&regenerate=false", null, "anonymous bad value"),
                _ => (HttpMethod.Get, "/get-required?key=w", forged, "forged unknown id, Required"),
            };
            var reply = await SendAsync(host, method, path, cookie, FaultCancel.None, 0);
            Record(name, reply);
            if (reply.Is2xx && reply.Cookie is not null)
            {
                Violate("nothing stored, no cookie", name, $"a request that stores nothing was answered with a session cookie ({op}): {reply}");
            }

            if (variant is 2 or 3 && reply.Is2xx)
            {
                Violate(variant == 2 ? "failed endpoint not saved" : "unserializable value not saved", name, $"answered {reply} ({op})");
            }

            return reply;
        }

        /// <summary>A well-formed id nobody issued (24 characters of a-z0-5).</summary>
        private static string UnissuedSessionId()
        {
            const string Alphabet = "abcdefghijklmnopqrstuvwxyz012345";
            return new string(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24).Select(b => Alphabet[b % 32]).ToArray());
        }

        /// <summary>Anonymous requests of every kind on every server, once traffic stopped: no new session id may appear among the keys.</summary>
        private async Task CheckNoKeysForUnstoredSessionsAsync(RedisServer redis)
        {
            var before = await SessionIdsInRedisAsync(redis);
            var replies = new List<Reply>();
            for (var round = 0; round < 4; round++)
            {
                foreach (var host in Enumerable.Range(0, Hosts.Length))
                {
                    var batch = await Task.WhenAll(Enumerable.Range(0, FaultPlan.AnonymousVariants).Select(v => AnonymousAsync(host, v, $"end check round {round}")));
                    replies.AddRange(batch);
                }
            }

            var settle = Stopwatch.StartNew();
            while (_probes.Any(p => Volatile.Read(ref p.InFlight) > 0) && settle.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(10);
            }

            var after = await SessionIdsInRedisAsync(redis);
            after.ExceptWith(before);
            _output.WriteLine($"key check: {replies.Count} requests that store nothing ({string.Join(", ", replies.GroupBy(r => r.Status?.ToString(CultureInfo.InvariantCulture) ?? "error").Select(g => $"{g.Count()}×{g.Key}"))}); {before.Count} session ids among the keys before, {after.Count} new after");
            if (after.Count > 0)
            {
                var keys = (await FaultKit.ScanAllKeysAsync(redis)).Where(k => after.Any(id => k.Contains(id, StringComparison.Ordinal))).Order(StringComparer.Ordinal).Take(10);
                Violate("no key for sessions never stored", string.Join(", ", after.Take(5)),
                    $"{after.Count} session ids got keys from {replies.Count} requests that store nothing (anonymous Required/ReadOnly/throw/bad value, forged id); keys: {string.Join(", ", keys)}");
            }
        }

        private async Task<HashSet<string>> SessionIdsInRedisAsync(RedisServer redis)
        {
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var key in await FaultKit.ScanAllKeysAsync(redis))
            {
                if (!key.Contains(_prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (Match match in SessionIdInKey.Matches(key[(key.IndexOf(_prefix, StringComparison.Ordinal) + _prefix.Length)..]))
                {
                    ids.Add(match.Value);
                }
            }

            return ids;
        }

        /// <summary>Seeded CLIENT PAUSE (50-500 ms) and kills of the servers' subscriber connections until stopped.</summary>
        private async Task InjectFaultsAsync(RedisServer redis, CancellationToken stop)
        {
            var random = _faultRandom ??= new Random(unchecked((_seed * 31) + 7)); // one schedule for the run (nearby seeds give alike sequences)
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(random.Next(300, 900), stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                var pause = random.Next(100) < 70;
                if (pause ? !_injected.Pauses : !_injected.SubscriberKills)
                {
                    continue;
                }

                if (pause)
                {
                    var ms = random.Next(50, 501);
                    var at = _clock.Elapsed;
                    await redis.CommandAsync("CLIENT", "PAUSE", ms.ToString(CultureInfo.InvariantCulture), "ALL");
                    lock (_faultLog)
                    {
                        _faultLog.Add((at, $"CLIENT PAUSE {ms} ms"));
                    }

                    Interlocked.Increment(ref _pauses);
                    Interlocked.Add(ref _pausedMs, ms);
                    await Task.Delay(ms + 20, CancellationToken.None); // the pause ends before the next fault (or the end checks)
                }
                else
                {
                    await KillSubscribersAsync(redis);
                }
            }
        }

        /// <summary>CLIENT LIST, then CLIENT KILL ID of every connection in pub/sub mode (the servers' release subscriptions).</summary>
        private async Task KillSubscribersAsync(RedisServer redis)
        {
            using var admin = await redis.ConnectAsync();
            var list = await admin.StringAsync("CLIENT", "LIST") ?? string.Empty;
            var killed = 0;
            foreach (var line in list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var fields = line.Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
                var subscribed = (fields.TryGetValue("flags", out var flags) && flags.Contains('P', StringComparison.Ordinal))
                                 || (fields.TryGetValue("sub", out var sub) && sub != "0")
                                 || (fields.TryGetValue("psub", out var psub) && psub != "0");
                if (subscribed && fields.TryGetValue("id", out var id))
                {
                    try
                    {
                        await admin.CommandAsync("CLIENT", "KILL", "ID", id);
                        killed++;
                    }
                    catch (InvalidOperationException)
                    {
                        // Gone already.
                    }
                }
            }

            Interlocked.Add(ref _subscriberKills, killed);
            lock (_faultLog)
            {
                _faultLog.Add((_clock.Elapsed, $"killed {killed} subscriber connections"));
            }

            if (killed == 0)
            {
                Interlocked.Increment(ref _killRoundsWithoutSubscriber);
            }
        }

        /// <summary>Sends one request the way a browser would (the cookie by hand), giving up where the plan says.</summary>
        private async Task<Reply> SendAsync(int host, HttpMethod method, string path, string? sessionId, FaultCancel cancel, int cancelMs, TimeSpan? timeout = null, bool startEarly = false)
        {
            using var request = new HttpRequestMessage(method, path);
            if (startEarly)
            {
                request.Headers.Add(HostProbe.StartEarlyHeader, "1");
            }

            if (sessionId is not null)
            {
                request.Headers.Add("Cookie", $"{SessionClient.CookieName}={sessionId}");
            }

            using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
            switch (cancel)
            {
                case FaultCancel.BeforeSend:
                    await limit.CancelAsync();
                    break;
                case FaultCancel.Acquire or FaultCancel.Waiting or FaultCancel.Endpoint:
                    limit.CancelAfter(cancelMs);
                    break;
            }

            var clock = Stopwatch.StartNew();
            int? status = null;
            string? cookie = null, counter = null, overlap = null;
            try
            {
                using var response = await _clients[host].SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
                status = (int)response.StatusCode;
                cookie = CookieOf(response);
                counter = response.Headers.TryGetValues(FaultEndpoints.CounterHeader, out var c) ? c.First() : null;
                overlap = response.Headers.TryGetValues(FaultEndpoints.OverlapHeader, out var o) ? o.First() : null;
                if (cancel == FaultCancel.WriteBack)
                {
                    // Leaves right after the headers: the unread response closes the connection (no draining).
                    return new Reply(true, status, cookie, counter, overlap, string.Empty, false, "left after the response headers", clock.Elapsed);
                }

                var body = await response.Content.ReadAsStringAsync(limit.Token);
                return new Reply(true, status, cookie, counter, overlap, body, true, null, clock.Elapsed);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                var sent = cancel != FaultCancel.BeforeSend;
                return new Reply(sent, status, cookie, counter, overlap, string.Empty, false, ex.GetType().Name, clock.Elapsed);
            }
        }

        /// <summary>The session cookie of a response: its value, "" when it deletes the cookie, null when none.</summary>
        private static string? CookieOf(HttpResponseMessage response)
        {
            if (!response.Headers.TryGetValues("Set-Cookie", out var values))
            {
                return null;
            }

            var cookie = values.FirstOrDefault(v => v.StartsWith(SessionClient.CookieName + "=", StringComparison.Ordinal));
            return cookie?.Split(';')[0][(SessionClient.CookieName.Length + 1)..];
        }

        private void Record(string kind, Reply reply, Ledger? ledger = null, string? op = null)
        {
            ledger?.Note(_clock.Elapsed - reply.Elapsed, $"{kind} ({op}): {reply}");
            var key = kind + ": " + (!reply.Sent ? "not sent" : reply.Status is { } s ? s.ToString(CultureInfo.InvariantCulture) + (reply.Complete ? "" : " cut off") : "no answer")
                      + (reply.Cookie is null ? "" : reply.Cookie.Length == 0 ? " +cookie deleted" : " +cookie");
            _outcomes.AddOrUpdate(key, 1, (_, n) => n + 1);
        }

        private void Add(Ledger ledger)
        {
            lock (_ledgers)
            {
                _ledgers.Add(ledger);
            }
        }

        private void Violate(string invariant, string session, string detail) =>
            _violations.Enqueue(new Violation(invariant, session, detail, _seed, _store));
    }
}
