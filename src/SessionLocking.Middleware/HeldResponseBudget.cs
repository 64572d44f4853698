using Microsoft.Extensions.Options;

namespace SessionLocking;

/// <summary>
/// The memory that all responses held until their session is saved may take together on this server
/// (<see cref="LockedSessionOptions.MaxTotalHeldResponseBytes"/>): many clients that talk HTTP/1.0 and do not read
/// their responses cannot pin more than this. Held buffers take their segments from it and give them back once the
/// server has taken the bytes, or the response was dropped.
/// </summary>
internal sealed class HeldResponseBudget(IOptions<LockedSessionOptions> options)
{
    private long _used;

    public long Limit { get; } = options.Value.MaxTotalHeldResponseBytes;

    /// <summary>Bytes held now, across all requests.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>Takes <paramref name="bytes"/>; false (and nothing taken) when that would pass the limit.</summary>
    public bool TryTake(int bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= Limit)
        {
            return true;
        }

        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Return(long bytes) => Interlocked.Add(ref _used, -bytes);
}
