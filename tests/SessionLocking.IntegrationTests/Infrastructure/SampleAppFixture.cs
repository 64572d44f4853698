namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>One sample app (default options) per test class.</summary>
public sealed class SampleAppFixture : IDisposable
{
    public SampleApp App { get; } = new();

    public void Dispose() => App.Dispose();
}
