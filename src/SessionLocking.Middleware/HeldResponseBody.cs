using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// Holds a response in memory until the session was saved, so that a client never holds a complete response, or a
/// new session id's cookie, for changes that were not saved. Used for HTTP/1.0, whose responses end when the
/// connection closes (an abort after a failed write-back would look complete, also to a proxy that talks HTTP/1.0
/// to the application), and after <c>RegenerateId</c>. The buffer is bounded: past
/// <see cref="LockedSessionOptions.MaxHeldResponseBytes"/> the write fails, and the request fails without saving.
/// </summary>
internal sealed class HeldResponseBody : IHttpResponseBodyFeature
{
    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _inner;
    private readonly BoundedBuffer _buffer;
    private PipeWriter? _writer;

    private HeldResponseBody(HttpContext context, IHttpResponseBodyFeature inner, int limit)
    {
        _context = context;
        _inner = inner;
        _buffer = new BoundedBuffer(limit);
    }

    /// <summary>Takes over the response body; null when the response has started already or has no body feature.</summary>
    public static HeldResponseBody? Install(HttpContext context, int limit)
    {
        if (context.Response.HasStarted || context.Features.Get<IHttpResponseBodyFeature>() is not { } inner)
        {
            return null;
        }

        var held = new HeldResponseBody(context, inner, limit);
        context.Features.Set<IHttpResponseBodyFeature>(held);
        return held;
    }

    /// <summary>True once the endpoint tried to write more than the limit (even if it caught the exception).</summary>
    public bool Overflowed => _buffer.Overflowed;

    public int Limit => _buffer.Limit;

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

    /// <summary>The session was saved: sends what the endpoint wrote.</summary>
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
    public void Discard()
    {
        _context.Features.Set(_inner);
        _buffer.SetLength(0);
    }

    /// <summary>A memory stream that refuses to grow past its limit.</summary>
    private sealed class BoundedBuffer(int limit) : MemoryStream
    {
        public int Limit { get; } = limit;

        public bool Overflowed { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Check(count);
            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Check(buffer.Length);
            base.Write(buffer);
        }

        public override void WriteByte(byte value)
        {
            Check(1);
            base.WriteByte(value);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Check(count);
            return base.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Check(buffer.Length);
            return base.WriteAsync(buffer, cancellationToken);
        }

        private void Check(int count)
        {
            if (Length + count > Limit)
            {
                Overflowed = true;
                throw new InvalidOperationException(TooLargeMessage(Limit));
            }
        }
    }

    public static string TooLargeMessage(int limit) =>
        $"This response is held in memory until the session is saved (an HTTP/1.0 request, or a request that called RegenerateId), and it grew past LockedSessionOptions.MaxHeldResponseBytes ({limit} bytes, SessionState:MaxHeldResponseBytes). The request fails and nothing is saved. Talk HTTP/1.1 between the proxy and the application (nginx: proxy_http_version 1.1), serve large responses from a ReadOnly or Disabled endpoint, or raise the limit.";
}
