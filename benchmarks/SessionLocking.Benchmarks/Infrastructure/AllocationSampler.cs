using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>
/// The runtime's allocation samples (GCAllocationTick: one event per about 100 KB allocated, naming the type of the
/// object that crossed the mark) counted by type while <see cref="Sampling"/> is on: where a request's bytes go, for
/// <c>many-one --allocations true</c>. Sampled, so only types that allocate a lot show up, roughly in proportion.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);

    public volatile bool Sampling;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!Sampling || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null)
        {
            return;
        }

        var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
        var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
    }

    /// <summary>The top types by sampled bytes, as bytes per request.</summary>
    public void Print(long requests, int top = 30)
    {
        var total = _bytes.Values.Sum();
        Console.WriteLine($"sampled allocations: {total / (double)requests:0} B/request");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine($"  {bytes / (double)requests,8:0} B/request  {type}");
        }
    }
}
