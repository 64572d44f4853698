using System.Collections.Concurrent;

namespace SessionLocking.TestServer;

/// <summary>
/// Instrumentation for the concurrency invariants: how many Required requests of a session are inside the
/// endpoint at once (must never exceed one), and how many readers overlap.
/// </summary>
public sealed class WriterTracker
{
    private readonly ConcurrentDictionary<string, int> _writersInside = new();
    private readonly ConcurrentDictionary<string, int> _readersInside = new();
    private int _violations;
    private int _maxReadersTogether;

    /// <summary>Times two writers of one session were inside at once.</summary>
    public int Violations => Volatile.Read(ref _violations);

    /// <summary>The most readers of one session seen inside at once.</summary>
    public int MaxReadersTogether => Volatile.Read(ref _maxReadersTogether);

    /// <summary>Writers of one session inside the endpoint now.</summary>
    public int WritersInside(string sessionId) => _writersInside.TryGetValue(sessionId, out var n) ? n : 0;

    /// <summary>Readers of one session inside the endpoint now.</summary>
    public int ReadersInside(string sessionId) => _readersInside.TryGetValue(sessionId, out var n) ? n : 0;

    public IDisposable Enter(string sessionId, bool writer)
    {
        var map = writer ? _writersInside : _readersInside;
        var inside = map.AddOrUpdate(sessionId, 1, static (_, n) => n + 1);
        if (writer && inside > 1)
        {
            Interlocked.Increment(ref _violations);
        }

        if (!writer)
        {
            int seen;
            while (inside > (seen = Volatile.Read(ref _maxReadersTogether))
                   && Interlocked.CompareExchange(ref _maxReadersTogether, inside, seen) != seen)
            {
            }
        }

        return new Exit(map, sessionId);
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _violations, 0);
        Interlocked.Exchange(ref _maxReadersTogether, 0);
    }

    private sealed class Exit(ConcurrentDictionary<string, int> map, string sessionId) : IDisposable
    {
        public void Dispose()
        {
            map.AddOrUpdate(sessionId, 0, static (_, n) => n - 1);
            map.TryRemove(new KeyValuePair<string, int>(sessionId, 0)); // only while nobody is inside: no entry per session ever seen
        }
    }
}
