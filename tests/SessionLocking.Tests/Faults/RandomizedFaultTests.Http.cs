using System.Diagnostics;
using System.Globalization;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Faults;

// The HTTP client side: one request sent the way a browser would, cancelled where the plan says, and what it saw.
public sealed partial class RandomizedFaultTests
{
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

    private sealed partial class FaultRun
    {
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
    }
}
