using System.Collections.Concurrent;

namespace MvcApp.Services;

/// <summary>
/// Counts the slow requests that are running now, by the tag the caller gave them. Lets a caller (the
/// integration tests) know that a request is inside its action (so it holds or skipped the lock) before it
/// sends the next one, instead of guessing with a sleep.
/// </summary>
public sealed class RunningRequests
{
    private readonly ConcurrentDictionary<string, int> _running = new(StringComparer.Ordinal);

    public IDisposable Enter(string? tag)
    {
        if (string.IsNullOrEmpty(tag))
        {
            return NoTag.Instance;
        }

        _running.AddOrUpdate(tag, 1, static (_, n) => n + 1);
        return new Exit(this, tag);
    }

    public int Count(string tag) => _running.TryGetValue(tag, out var n) ? n : 0;

    private void Leave(string tag)
    {
        while (true)
        {
            var n = _running.GetValueOrDefault(tag);
            if (n == 0)
            {
                return;
            }

            if (n == 1)
            {
                if (_running.TryRemove(new KeyValuePair<string, int>(tag, n)))
                {
                    return;
                }
            }
            else if (_running.TryUpdate(tag, n - 1, n))
            {
                return;
            }
        }
    }

    private sealed class Exit(RunningRequests owner, string tag) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Leave(tag);
            }
        }
    }

    private sealed class NoTag : IDisposable
    {
        public static readonly NoTag Instance = new();

        public void Dispose()
        {
        }
    }
}
