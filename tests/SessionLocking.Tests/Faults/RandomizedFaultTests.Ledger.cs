using System.Collections.Concurrent;

namespace SessionLocking.Tests.Faults;

// What the test knows of each session: its ledger (one per session id) and its slot (one per logical session).
public sealed partial class RandomizedFaultTests
{
    private enum Applied
    {
        Yes,
        No,
        Unknown,
    }

    /// <summary>Accounting of one session id: increments acknowledged, unknown, sent, and the values the 2xx answers carried.</summary>
    private sealed class Ledger(string id, int slot, int generation)
    {
        public string Id { get; } = id;

        public int Slot { get; } = slot;

        public int Generation { get; } = generation;

        public long Acked;
        public long Unknown;
        public long Sent;
        public bool Retired;
        public readonly HashSet<int> Values = new();
        public readonly ConcurrentQueue<(TimeSpan At, string What)> History = new();

        public string LastRequests => string.Join(" | ", History.ToArray().OrderBy(h => h.At).Select(h => $"t={h.At.TotalSeconds:0.000}s {h.What}"));
        public DateTime LockFailureReportedAt = DateTime.MinValue;

        public void Note(TimeSpan at, string what)
        {
            History.Enqueue((at, what.Length > 150 ? what[..150] + "…" : what));
            while (History.Count > 10)
            {
                History.TryDequeue(out _);
            }
        }

        public string Name => $"{Id} (slot {Slot}, generation {Generation}{(Retired ? ", retired" : "")})";
    }

    /// <summary>A logical session: its current id, and a gate that lets identity changes (RegenerateId, Abandon) run alone.</summary>
    private sealed class Slot(int index)
    {
        private readonly SemaphoreSlim _permits = new(MaxInFlightPerSlot, MaxInFlightPerSlot);
        private readonly SemaphoreSlim _exclusive = new(1, 1);

        public int Index { get; } = index;

        public Ledger? Current;
        public int Generations;

        public async Task<IAsyncDisposable> SharedAsync()
        {
            await _exclusive.WaitAsync();
            try
            {
                await _permits.WaitAsync();
            }
            finally
            {
                _exclusive.Release();
            }

            return new Permits(_permits, 1);
        }

        public async Task<IAsyncDisposable> ExclusiveAsync()
        {
            await _exclusive.WaitAsync();
            try
            {
                for (var i = 0; i < MaxInFlightPerSlot; i++)
                {
                    await _permits.WaitAsync();
                }
            }
            finally
            {
                _exclusive.Release();
            }

            return new Permits(_permits, MaxInFlightPerSlot);
        }

        private sealed class Permits(SemaphoreSlim semaphore, int count) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                semaphore.Release(count);
                return ValueTask.CompletedTask;
            }
        }
    }
}
