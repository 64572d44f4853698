using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using SessionLocking.Locking;

namespace SessionLocking.Diagnostics;

/// <summary>
/// One request's <c>Server-Timing</c> figures: <c>session-wait</c>, <c>session-load</c> and <c>session-save</c>
/// (milliseconds). The header is written by the server's own <c>OnStarting</c>, registered before anything else of
/// the session, so it runs as the response really starts, after the session's cookie; it only adds what is known by
/// then and never delays the response. A save that ends after the response started (a streamed response) is left out.
/// </summary>
internal sealed class SessionServerTiming
{
    public const string HeaderName = "Server-Timing";

    private readonly HttpResponse _response;
    private readonly TimeProvider _time;
    private bool _acquired;
    private TimeSpan _wait;
    private TimeSpan? _load;
    private TimeSpan? _save;
    private string? _holder;

    private SessionServerTiming(HttpResponse response, TimeProvider time)
    {
        _response = response;
        _time = time;
    }

    /// <summary><see cref="LockedSessionOptions.ServerTiming"/>, and when it is null: on in Development only.</summary>
    public static bool IsOn(LockedSessionOptions options, IHostEnvironment? environment) =>
        options.ServerTiming ?? environment?.IsDevelopment() ?? false;

    /// <summary>Starts the figures of a request about to acquire its session; null when the response has already started.</summary>
    public static SessionServerTiming? Begin(HttpContext context, TimeProvider time)
    {
        if (context.Response.HasStarted)
        {
            return null;
        }

        var timing = new SessionServerTiming(context.Response, time);
        context.Response.OnStarting(static state => ((SessionServerTiming)state).Write(), timing);
        return timing;
    }

    /// <summary>
    /// The acquisition ended: what it waited (0 when it did not; the whole acquisition when it gave up) and, when it
    /// got the session, the store call that loaded it.
    /// </summary>
    public void Acquired(SessionLock sessionLock)
    {
        _acquired = true;
        if (sessionLock.Status != AcquireStatus.Acquired || sessionLock.Waited > TimeSpan.Zero)
        {
            // The request waited: whom for goes in the description of its wait.
            _holder = sessionLock.Holder?.Display;
        }

        if (sessionLock.Status != AcquireStatus.Acquired)
        {
            _wait = sessionLock.AcquireTime;
            return;
        }

        var wait = sessionLock.AcquireTime - sessionLock.LoadTime;
        _wait = sessionLock.Waited > TimeSpan.Zero && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        _load = sessionLock.LoadTime;
    }

    /// <summary>A timestamp for <see cref="Saved"/>.</summary>
    public long SaveStarting() => _time.GetTimestamp();

    /// <summary>The session was saved (or its lock released); counted only if the response has not started yet.</summary>
    public void Saved(long started)
    {
        if (!_response.HasStarted)
        {
            _save = _time.GetElapsedTime(started);
        }
    }

    private Task Write()
    {
        if (_acquired)
        {
            var value = new StringBuilder(80);
            Append(value, "session-wait", _wait);
            if (_holder is not null)
            {
                AppendDescription(value, _holder);
            }

            Append(value, "session-load", _load);
            Append(value, "session-save", _save);
            _response.Headers.Append(HeaderName, value.ToString());
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>;desc="..."</c>: a quoted string, with what a header may not carry (characters outside visible ASCII) replaced,
    /// so an endpoint's name can never break the header or the response.
    /// </summary>
    private static void AppendDescription(StringBuilder value, string description)
    {
        value.Append(";desc=\"");
        foreach (var c in description)
        {
            if (c is '"' or '\\')
            {
                value.Append('\\');
            }

            value.Append(c is >= ' ' and <= '~' ? c : '?');
        }

        value.Append('"');
    }

    private static void Append(StringBuilder value, string metric, TimeSpan? duration)
    {
        if (duration is not { } d)
        {
            return;
        }

        if (value.Length > 0)
        {
            value.Append(", ");
        }

        value.Append(metric).Append(";dur=").Append(d.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture));
    }
}
