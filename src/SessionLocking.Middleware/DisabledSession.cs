using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>The <see cref="ISession"/> of a <see cref="SessionStateBehavior.Disabled"/> request: every use fails clearly.</summary>
internal sealed class DisabledSession : ISession
{
    public static readonly DisabledSession Instance = new();

    public bool IsAvailable => false;

    public string Id => throw Fail();

    public IEnumerable<string> Keys => throw Fail();

    public void Clear() => throw Fail();

    public Task CommitAsync(CancellationToken cancellationToken = default) => throw Fail();

    public Task LoadAsync(CancellationToken cancellationToken = default) => throw Fail();

    public void Remove(string key) => throw Fail();

    public void Set(string key, byte[] value) => throw Fail();

    public bool TryGetValue(string key, out byte[] value) => throw Fail();

    private static InvalidOperationException Fail() => new(SessionStateMessages.Disabled);
}
