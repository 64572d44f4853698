namespace SessionLocking;

/// <summary>
/// <c>Response.Body</c> of a <see cref="SessionStateBehavior.Required"/> request: to the server while the response
/// streams, into the held buffer while it is held (see <see cref="SessionResponseBody"/>).
/// </summary>
internal sealed class SessionResponseStream(SessionResponseBody body) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
        if (!body.IsHeld())
        {
            body.Inner.Stream.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        body.IsHeld() ? Task.CompletedTask
        : body.StreamRelease is null ? body.Inner.Stream.FlushAsync(cancellationToken)
        : ReleaseThenFlushAsync(cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (body.IsHeldForWrite())
        {
            body.WriteHeld(buffer);
        }
        else
        {
            body.Inner.Stream.Write(buffer);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!body.IsHeldForWrite())
        {
            return body.StreamRelease is null ? body.Inner.Stream.WriteAsync(buffer, cancellationToken) : ReleaseThenWriteAsync(buffer, cancellationToken);
        }

        body.WriteHeld(buffer.Span);
        return default;
    }

    private async ValueTask ReleaseThenWriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await body.BeforeStreamingAsync();
        await body.Inner.Stream.WriteAsync(buffer, cancellationToken);
    }

    private async Task ReleaseThenFlushAsync(CancellationToken cancellationToken)
    {
        await body.BeforeStreamingAsync();
        await body.Inner.Stream.FlushAsync(cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
