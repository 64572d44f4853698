using System.IO.Pipelines;

namespace SessionLocking;

/// <summary>
/// <c>Response.BodyWriter</c> of a <see cref="SessionStateBehavior.Required"/> request: to the server while the
/// response streams, into the held buffer while it is held (see <see cref="SessionResponseBody"/>). Memory is
/// handed out and advanced where the response is at that moment; a flush or a write decides, as it would start the
/// response at the server.
/// </summary>
internal sealed class SessionResponseWriter(SessionResponseBody body) : PipeWriter
{
    private bool _leasedFromHeld;
    private byte[]? _scratch;

    public override bool CanGetUnflushedBytes => body.Held is not null || body.Inner.Writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => body.Held?.Length ?? body.Inner.Writer.UnflushedBytes;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        _leasedFromHeld = body.Held is not null;
        if (!_leasedFromHeld)
        {
            return body.Inner.Writer.GetMemory(sizeHint);
        }

        if (body.DropsWrites)
        {
            // A HEAD response: what is written is dropped, so a scratch buffer takes it.
            return _scratch is { } scratch && scratch.Length >= Math.Max(sizeHint, 1) ? scratch : _scratch = new byte[Math.Max(sizeHint, 4096)];
        }

        return body.Held!.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (!_leasedFromHeld)
        {
            body.Inner.Writer.Advance(bytes);
        }
        else if (body.AcceptsHeldWrite(bytes))
        {
            body.Held!.Advance(bytes);
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        body.IsHeld() ? default
        : body.StreamRelease is null ? body.Inner.Writer.FlushAsync(cancellationToken)
        : ReleaseThenFlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (!body.IsHeldForWrite())
        {
            return body.StreamRelease is null ? body.Inner.Writer.WriteAsync(source, cancellationToken) : ReleaseThenWriteAsync(source, cancellationToken);
        }

        body.WriteHeld(source.Span);
        return default;
    }

    private async ValueTask<FlushResult> ReleaseThenFlushAsync(CancellationToken cancellationToken)
    {
        await body.BeforeStreamingAsync();
        return await body.Inner.Writer.FlushAsync(cancellationToken);
    }

    private async ValueTask<FlushResult> ReleaseThenWriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        await body.BeforeStreamingAsync();
        return await body.Inner.Writer.WriteAsync(source, cancellationToken);
    }

    public override void CancelPendingFlush() => body.Inner.Writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        if (exception is not null)
        {
            // The application abandons the response: the server aborts it, as it would without the session.
            body.Inner.Writer.Complete(exception);
            return;
        }

        body.Complete();
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (exception is not null)
        {
            await body.Inner.Writer.CompleteAsync(exception);
            return;
        }

        await body.CompleteAsync();
    }
}
