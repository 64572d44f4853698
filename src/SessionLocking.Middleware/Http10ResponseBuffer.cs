using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// Holds the response of a <see cref="SessionStateBehavior.Required"/> request over HTTP/1.0 until its write-back
/// succeeded. HTTP/1.1 and HTTP/2 let a client see a response cut off after it started (no final chunk, no
/// END_STREAM: the middleware drops Content-Length for that), but an HTTP/1.0 response without a length ends when
/// the connection closes, so an abort after a failed write-back would look like a complete response, also to a
/// proxy that talks HTTP/1.0 to the application. Buffered, the response has not started when the write-back fails,
/// so the client gets the failure as a status code instead.
/// </summary>
internal sealed class Http10ResponseBuffer : IHttpResponseBodyFeature
{
    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _inner;
    private readonly MemoryStream _buffer = new();
    private PipeWriter? _writer;

    private Http10ResponseBuffer(HttpContext context, IHttpResponseBodyFeature inner)
    {
        _context = context;
        _inner = inner;
    }

    /// <summary>Buffers the response of an HTTP/1.0 request; returns null (nothing changed) for any other protocol.</summary>
    public static Http10ResponseBuffer? InstallFor(HttpContext context)
    {
        if (!HttpProtocol.IsHttp10(context.Request.Protocol) || context.Features.Get<IHttpResponseBodyFeature>() is not { } inner)
        {
            return null;
        }

        var buffer = new Http10ResponseBuffer(context, inner);
        context.Features.Set<IHttpResponseBodyFeature>(buffer);
        return buffer;
    }

    public Stream Stream => _buffer;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(_buffer, new StreamPipeWriterOptions(leaveOpen: true));

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(_buffer, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync();
        }
    }

    /// <summary>The write-back succeeded: sends what the endpoint wrote.</summary>
    public async Task SendAsync()
    {
        await CompleteAsync();
        _context.Features.Set(_inner);
        if (_buffer.Length > 0)
        {
            await _inner.Writer.WriteAsync(_buffer.GetBuffer().AsMemory(0, (int)_buffer.Length));
        }
    }

    /// <summary>The endpoint or the write-back failed: what the endpoint wrote is dropped, the failure is answered instead.</summary>
    public void Discard() => _context.Features.Set(_inner);
}
