using System.Collections.Concurrent;
using System.Text;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// 10,000+ forged <c>Cookie</c> headers for the session cookie: every byte value (bar CR and LF, which end the
/// header line itself) alone, repeated and inside near-valid ids; pieces aimed at store keys; random bytes and
/// random printable text up to 8 KB; near-valid ids; repeated cookies. Deterministic for a seed.
/// </summary>
public static class ForgedCookies
{
    public const string CookieName = "ASP.NET_SessionId";

    /// <param name="seed">The random seed.</param>
    /// <param name="aimed">Extra pieces aimed at a store's keys, each tried alone, around and inside a valid id.</param>
    /// <param name="foreignId">A well-formed id of another application's session, sent as is 50 times.</param>
    public static IEnumerable<byte[][]> Generate(int seed, IEnumerable<string>? aimed = null, string? foreignId = null)
    {
        var random = new Random(seed);
        byte[] Cookie(string value) => Encoding.Latin1.GetBytes(CookieName + "=" + value);
        byte[] CookieBytes(byte[] value) => Encoding.ASCII.GetBytes(CookieName + "=").Concat(value).ToArray();
        string ValidId() => SessionIds.Create();
        var allBytes = Enumerable.Range(0, 256).Select(b => (byte)b).Where(b => b is not (13 or 10)).ToArray();

        foreach (var b in allBytes)
        {
            yield return [CookieBytes([b])];
            yield return [CookieBytes(Enumerable.Repeat(b, 24).ToArray())];
            var id = Encoding.ASCII.GetBytes(ValidId());
            id[random.Next(24)] = b;
            yield return [CookieBytes(id)];
            yield return [CookieBytes(Encoding.ASCII.GetBytes(ValidId()[..23]).Append(b).ToArray())];
        }

        string[] common = ["{", "}", "{}", "}{", "*", "?", "[a-z]*", "\\", ":lock", ":data", "}:lock", "{x}:meta", "' or 1=1", "%7B", "%00", "..", "/", " ", "\t"];
        foreach (var piece in common.Concat(aimed ?? []))
        {
            var id = ValidId();
            yield return [Cookie(piece)];
            yield return [Cookie(id + piece)];
            yield return [Cookie(piece + id)];
            yield return [Cookie(id[..12] + piece + id[12..])];
            yield return [Cookie(id[..(24 - Math.Min(piece.Length, 24))] + piece[..Math.Min(piece.Length, 24)])]; // 24 characters, not all a-z0-5
        }

        if (foreignId is not null)
        {
            for (var i = 0; i < 50; i++)
            {
                yield return [Cookie(foreignId)]; // well-formed, unknown to this application: a fresh id, never the other's data
            }
        }

        foreach (var length in new[] { 1, 2, 23, 24, 25, 100, 1000, 4096, 8192 })
        {
            for (var i = 0; i < 30; i++)
            {
                yield return [CookieBytes(Enumerable.Range(0, length).Select(_ => allBytes[random.Next(allBytes.Length)]).ToArray())];
            }
        }

        const string printable = "!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~";
        for (var i = 0; i < 6_200; i++)
        {
            var length = i % 10 == 0 ? random.Next(1, 8193) : random.Next(1, 64);
            yield return [Cookie(new string(Enumerable.Range(0, length).Select(_ => printable[random.Next(printable.Length)]).ToArray()))];
        }

        for (var i = 0; i < 2_000; i++)
        {
            var id = ValidId().ToCharArray();
            switch (i % 4)
            {
                case 0:
                    id[random.Next(24)] = "6789ABZ_-{}:*"[random.Next(13)];
                    yield return [Cookie(new string(id))];
                    break;
                case 1:
                    yield return [Cookie(new string(id)[..random.Next(1, 24)])];
                    break;
                case 2:
                    yield return [Cookie(new string(id) + "a")];
                    break;
                default:
                    yield return [Cookie(new string(id).ToUpperInvariant())];
                    break;
            }
        }

        for (var i = 0; i < 600; i++)
        {
            var unknown = ValidId();
            var junk = "x" + random.Next();
            yield return i % 2 == 0
                ? [Cookie(junk + "; " + CookieName + "=" + unknown)]
                : [Cookie(unknown), Cookie(junk)];
        }
    }

    /// <summary>What happened to a run of forged cookies.</summary>
    /// <param name="Problems">Cases that did not get a normal response with a fresh, valid, never-seen session id.</param>
    /// <param name="IssuedIds">The fresh ids the server issued.</param>
    /// <param name="RefusedByHttp">Cases Kestrel refused with 400 before any middleware, for control or non-ASCII bytes.</param>
    public sealed record Outcome(IReadOnlyCollection<string> Problems, IReadOnlyCollection<string> IssuedIds, int RefusedByHttp);

    /// <summary>
    /// Sends every case as a writing request (<c>POST /set</c>) over a raw socket, 8 at a time, and checks each
    /// answer: 200 with a fresh session id that is valid, never issued before and not taken from the request.
    /// </summary>
    public static async Task<Outcome> SendAllAsync(Uri address, IReadOnlyList<byte[][]> cases)
    {
        var problems = new ConcurrentQueue<string>();
        var issued = new ConcurrentDictionary<string, byte>();
        var refused = 0;
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (headers, _) =>
        {
            var response = await RawHttp.SendAsync(address, "POST", "/set?key=a&value=1", headers);
            if (response.Status == 400 && headers.Any(h => h.Any(b => b < 0x20 && b != 0x09 || b >= 0x7f)))
            {
                Interlocked.Increment(ref refused);
                return;
            }

            var cookie = response.SetCookies.SingleOrDefault(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal));
            var id = cookie?.Split(';')[0][(CookieName.Length + 1)..];
            if (response.Status != 200 || id is null || !SessionIds.IsValid(id) || !issued.TryAdd(id, 0)
                || headers.Any(h => Encoding.Latin1.GetString(h).Contains(id, StringComparison.Ordinal)))
            {
                problems.Enqueue($"{response.Status} {cookie} for {Describe(headers)}");
            }
        });

        return new Outcome(problems.ToArray(), issued.Keys.ToArray(), refused);
    }

    /// <summary>A short hex rendering of a case, for failure messages.</summary>
    public static string Describe(byte[][] headers) =>
        string.Join(" | ", headers.Select(h => Convert.ToHexString(h.Length > 40 ? h[..40] : h) + (h.Length > 40 ? $"…({h.Length} bytes)" : "")));
}
