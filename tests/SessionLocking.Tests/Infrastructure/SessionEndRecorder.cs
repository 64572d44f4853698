using System.Collections.Concurrent;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>Records every <c>OnSessionEnd</c> call: the id, the reason and the items (string values) it saw.</summary>
public sealed class SessionEndRecorder
{
    private readonly ConcurrentQueue<Raised> _raised = new();

    public sealed record Raised(string SessionId, SessionEndReason Reason, IReadOnlyDictionary<string, string?> Items, string Server);

    public IReadOnlyList<Raised> All => _raised.ToArray();

    /// <summary>The handler of one server; <paramref name="server"/> names it in the records.</summary>
    public Func<SessionEndContext, Task> Handler(string server = "a") => context =>
    {
        var items = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in context.Session.Keys)
        {
            items[name] = context.Session[name] as string;
        }

        _raised.Enqueue(new Raised(context.SessionId, context.Reason, items, server));
        return Task.CompletedTask;
    };

    public void Add(Raised raised) => _raised.Enqueue(raised);

    /// <summary>Waits (polling, bounded) until at least <paramref name="count"/> ends were raised.</summary>
    public async Task<IReadOnlyList<Raised>> WaitForAsync(int count, TimeSpan? within = null, Action? tick = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (_raised.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{_raised.Count} of {count} session ends were raised in time.");
            }

            tick?.Invoke();
            await Task.Delay(20);
        }

        return All;
    }
}
