using System.Globalization;

namespace SessionLocking.Tests.Faults;

// The Redis faults injected while the lanes run: CLIENT PAUSE and kills of the subscriber connections.
public sealed partial class RandomizedFaultTests
{
    private sealed partial class FaultRun
    {
        private Random? _faultRandom;
        private int _pauses;
        private int _pausedMs;
        private int _subscriberKills;
        private int _killRoundsWithoutSubscriber;

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
    }
}
