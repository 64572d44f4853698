using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SessionLocking.Tests.Faults;

// Redis seen from inside: no key for a session that was never stored.
public sealed partial class RandomizedFaultTests
{
    private sealed partial class FaultRun
    {
        private static readonly Regex SessionIdInKey = new("[a-z0-5]{24}", RegexOptions.CultureInvariant);

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
    }
}
