using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

// The run of one store: hosts and clients, the lanes over the plan, quiet points, end checks and the report.
public sealed partial class RandomizedFaultTests
{
    /// <summary>One store's run: hosts, HTTP clients, sessions, the fault injector, the ledgers and the violations.</summary>
    private sealed partial class FaultRun : IAsyncDisposable
    {
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
    }
}
