using System.IO.Pipelines;

namespace SessionLocking;

/// <summary>
/// The bytes of a response held until its session is saved. Bounded twice: the response may not pass
/// <see cref="LockedSessionOptions.MaxHeldResponseBytes"/>, and its segments come from the server's
/// <see cref="HeldResponseBudget"/>. Every write path checks before it takes memory (a write, or a
/// <c>GetMemory</c>/<c>Advance</c> of the body's PipeWriter), so nothing grows past either bound. The response is
/// sent segment by segment, and each segment is given back once the server has taken it.
/// </summary>
internal sealed class HeldResponseBuffer(int limit, HeldResponseBudget budget)
{
    private const int FirstSegmentBytes = 4 * 1024;

    // Below the large object heap's threshold (85,000 bytes), so held segments are ordinary short-lived objects.
    private const int LargestSegmentBytes = 64 * 1024;

    private readonly List<(byte[] Bytes, int Used)> _segments = new();
    private long _length;
    private long _taken;

    public int Limit => limit;

    /// <summary>The server's limit: <see cref="LockedSessionOptions.MaxTotalHeldResponseBytes"/>.</summary>
    public long ServerLimit => budget.Limit;

    public long Length => _length;

    /// <summary>True once a write would have passed <see cref="Limit"/> (even if the endpoint caught the exception).</summary>
    public bool OverLimit { get; private set; }

    /// <summary>True once a write found the server's budget spent (even if the endpoint caught the exception).</summary>
    public bool OverServerLimit { get; private set; }

    public Memory<byte> GetMemory(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_segments.Count > 0 && _segments[^1] is var (tail, used) && tail.Length - used >= sizeHint)
        {
            return tail.AsMemory(used);
        }

        CheckRoom(sizeHint);
        var size = Math.Max(sizeHint, (int)Math.Clamp(_length, FirstSegmentBytes, LargestSegmentBytes));
        size = (int)Math.Max(sizeHint, Math.Min(size, limit - _length));
        if (!budget.TryTake(size))
        {
            OverServerLimit = true;
            throw new InvalidOperationException(ServerFullMessage(budget.Limit));
        }

        _taken += size;
        _segments.Add((GC.AllocateUninitializedArray<byte>(size), 0));
        return _segments[^1].Bytes;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        CheckRoom(count);
        var (tail, used) = _segments.Count > 0 ? _segments[^1] : throw new InvalidOperationException("Advance without GetMemory.");
        if (used + count > tail.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "Advanced past the memory that GetMemory returned.");
        }

        _segments[^1] = (tail, used + count);
        _length += count;
    }

    /// <summary>Copies <paramref name="data"/> in, all or nothing.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        CheckRoom(data.Length);
        while (data.Length > 0)
        {
            var memory = GetMemory(Math.Min(data.Length, LargestSegmentBytes)).Span;
            var count = Math.Min(memory.Length, data.Length);
            data[..count].CopyTo(memory);
            Advance(count);
            data = data[count..];
        }
    }

    /// <summary>Sends what was held, one segment at a time; a segment goes back to the budget once the server took it.</summary>
    public async Task SendAsync(PipeWriter target)
    {
        try
        {
            for (var i = 0; i < _segments.Count; i++)
            {
                var (bytes, used) = _segments[i];
                _segments[i] = (Array.Empty<byte>(), 0);
                if (used > 0)
                {
                    await target.WriteAsync(bytes.AsMemory(0, used));
                }

                _taken -= bytes.Length;
                budget.Return(bytes.Length);
            }
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Drops what was held and gives its memory back.</summary>
    public void Release()
    {
        _segments.Clear();
        budget.Return(_taken);
        _taken = 0;
        _length = 0;
    }

    private void CheckRoom(int count)
    {
        if (_length + count > limit)
        {
            OverLimit = true;
            throw new InvalidOperationException(TooLargeMessage(limit));
        }
    }

    public static string TooLargeMessage(int limit) =>
        $"This response is held in memory until the session is saved (an HTTP/1.0 request, a request that called RegenerateId, or a response that ends at its head such as HEAD or 204), and it grew past LockedSessionOptions.MaxHeldResponseBytes ({limit} bytes, SessionState:MaxHeldResponseBytes). The request fails and nothing is saved. Talk HTTP/1.1 between the proxy and the application (nginx: proxy_http_version 1.1), serve large responses from a ReadOnly or Disabled endpoint, or raise the limit.";

    public static string ServerFullMessage(long limit) =>
        $"The responses this server holds in memory until their sessions are saved have reached LockedSessionOptions.MaxTotalHeldResponseBytes ({limit} bytes, SessionState:MaxTotalHeldResponseBytes). This request fails with 503 and nothing of it is saved; it can be retried. Talk HTTP/1.1 between the proxy and the application (nginx: proxy_http_version 1.1), or raise the limit.";
}
