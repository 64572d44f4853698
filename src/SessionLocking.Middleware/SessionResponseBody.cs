using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// The response body of a <see cref="SessionStateBehavior.Required"/> request, between the application and the
/// server, so that the server cannot end the response before the session was saved:
/// <list type="bullet">
/// <item>most responses stream at once (the session response drops their Content-Length, so they end only when the
/// request does); <c>CompleteAsync</c> flushes them, and they are completed after the save;</item>
/// <item>a response the server would end at its head (HEAD, 204, 205, 304, <c>Content-Length: 0</c>, or completed
/// before anything was written) is held: it reaches the server only after the save;</item>
/// <item>a response held from the start (HTTP/1.0, or once <c>RegenerateId</c> was called) goes to a bounded buffer
/// (<see cref="HeldResponseBuffer"/>) and is sent after the save.</item>
/// </list>
/// Whether a response streams or is held is decided when it would start at the server (its first write, flush,
/// <c>StartAsync</c> or <c>CompleteAsync</c>), when its status and headers are known.
/// </summary>
internal sealed class SessionResponseBody : IHttpResponseBodyFeature
{
    private readonly HttpContext _context;
    private readonly Func<HeldResponseBuffer> _newBuffer;
    private HeldResponseBuffer? _held;
    private bool _streaming;
    private bool _completed;
    private bool _passThrough;

    public SessionResponseBody(HttpContext context, IHttpResponseBodyFeature inner, Func<HeldResponseBuffer> newBuffer)
    {
        _context = context;
        Inner = inner;
        _newBuffer = newBuffer;
        Stream = new SessionResponseStream(this);
        Writer = new SessionResponseWriter(this);
    }

    public IHttpResponseBodyFeature Inner { get; }

    public Stream Stream { get; }

    public PipeWriter Writer { get; }

    /// <summary>The held bytes, once the response is held; null while it streams or is undecided.</summary>
    public HeldResponseBuffer? Held => _held;

    /// <summary>
    /// Set while a server-sent-events response would release the session before its first bytes go to the server
    /// (<see cref="LockedSessionOptions.HoldLockThroughStreams"/> false): the early release. Taken at the first streamed
    /// write or flush, whatever the response is then.
    /// </summary>
    public Func<Task>? StreamRelease { get; set; }

    /// <summary>True once the session was saved early: everything goes to the server as it would without the session.</summary>
    public bool PassesThrough => _passThrough;

    /// <summary>
    /// Bytes of a streamed response are about to go to the server (an async write or flush): a response of
    /// <c>text/event-stream</c> releases the session first, once. Any other response keeps its lock to the end.
    /// </summary>
    public Task BeforeStreamingAsync()
    {
        if (StreamRelease is not { } release)
        {
            return Task.CompletedTask;
        }

        StreamRelease = null;
        return IsEventStream(_context.Response.ContentType) ? release() : Task.CompletedTask;
    }

    /// <summary>
    /// The session was saved and released early (<c>ReleaseSessionAsync</c>): what was held goes to the server now, and
    /// from here on the body is the server's, untouched (a completed one is ended at once).
    /// </summary>
    public async Task PassThroughAsync()
    {
        _passThrough = true;
        _streaming = true;
        StreamRelease = null;
        if (_held is { } held)
        {
            _held = null;
            await held.SendAsync(Inner.Writer);
        }

        if (_completed)
        {
            await Inner.CompleteAsync();
        }
    }

    /// <summary>Holds the response from now on (HTTP/1.0, <c>RegenerateId</c>). Must be called before it streams.</summary>
    public void Hold()
    {
        if (!_streaming)
        {
            _held ??= _newBuffer();
        }
    }

    /// <summary>
    /// Where the response goes, decided when it would start at the server: held when it is held already or would end at
    /// its head, else streamed. <paramref name="completing"/>: <c>CompleteAsync</c> before anything was written ends the
    /// response at its head too.
    /// </summary>
    public bool IsHeld(bool completing = false)
    {
        if (_passThrough)
        {
            return false;
        }

        if (_held is null && !_streaming)
        {
            if (completing || EndsAtHead())
            {
                _held = _newBuffer();
            }
            else
            {
                _streaming = true;
            }
        }

        return _held is not null;
    }

    /// <summary>Like <see cref="IsHeld"/>, for a write: refused after <c>CompleteAsync</c>, as the server refuses it.</summary>
    public bool IsHeldForWrite()
    {
        if (_passThrough)
        {
            return false;
        }

        if (_completed)
        {
            throw new InvalidOperationException("The response was completed (CompleteAsync); nothing more can be written to it.");
        }

        return IsHeld();
    }

    /// <summary>A HEAD response has no body: what the application writes is dropped, as the server would drop it.</summary>
    public bool DropsWrites => HttpMethods.IsHead(_context.Request.Method);

    /// <summary>
    /// Whether <paramref name="count"/> bytes written to a held response are kept: a HEAD response drops them, and a
    /// response that may not have a body, or more than its Content-Length, refuses them, with the server's messages.
    /// </summary>
    public bool AcceptsHeldWrite(int count)
    {
        if (count == 0 || DropsWrites)
        {
            return false;
        }

        var response = _context.Response;
        if (response.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified)
        {
            throw new InvalidOperationException($"Writing to the response body is invalid for responses with status code {response.StatusCode}.");
        }

        if (response.ContentLength is { } length && _held!.Length + count > length)
        {
            throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({_held.Length + count} of {length}).");
        }

        return true;
    }

    public void WriteHeld(ReadOnlySpan<byte> data)
    {
        if (AcceptsHeldWrite(data.Length))
        {
            _held!.Write(data);
        }
    }

    public void DisableBuffering() => Inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) =>
        IsHeld() ? Task.CompletedTask : StreamRelease is null ? Inner.StartAsync(cancellationToken) : ReleaseThenStartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        IsHeldForWrite() ? SendFileFallback.SendFileAsync(Stream, path, offset, count, cancellationToken) : Inner.SendFileAsync(path, offset, count, cancellationToken);

    /// <summary>The application ends the response: it is flushed (or held), and ended at the server only after the save.</summary>
    public async Task CompleteAsync()
    {
        if (_passThrough)
        {
            await Inner.CompleteAsync();
            return;
        }

        if (!_completed)
        {
            Complete();
            if (_streaming)
            {
                await Inner.Writer.FlushAsync();
            }
        }
    }

    /// <summary>Ends the response without flushing (the body's PipeWriter completed).</summary>
    public void Complete()
    {
        if (_passThrough)
        {
            Inner.Writer.Complete();
            return;
        }

        IsHeld(completing: true);
        _completed = true;
    }

    /// <summary>The session was saved: a held response goes to the server now, and a completed one is ended.</summary>
    public async Task SendAsync()
    {
        if (_held is { } held)
        {
            await held.SendAsync(Inner.Writer);
        }

        if (_completed)
        {
            await Inner.CompleteAsync();
        }
    }

    /// <summary>The request failed: what was held is dropped, and the failure is answered instead.</summary>
    public void Discard() => _held?.Release();

    private async Task ReleaseThenStartAsync(CancellationToken cancellationToken)
    {
        await BeforeStreamingAsync();
        await Inner.StartAsync(cancellationToken);
    }

    private static bool IsEventStream(string? contentType) =>
        contentType is not null && contentType.TrimStart().StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);

    private bool EndsAtHead() =>
        HttpMethods.IsHead(_context.Request.Method)
        || _context.Response.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified
        || _context.Response.ContentLength == 0;
}
