using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// Who waits for whom, from the server-side start and end times of the slow actions (test 3). Assertions are on
/// the order of those times, never on how fast anything was.
/// </summary>
public sealed class LockingTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public LockingTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task RequiredRequestsOfOneSessionNeverOverlap()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();

        var calls = await Task.WhenAll(Enumerable.Range(1, 6).Select(i => SlowCall.RunAsync(browser, "required", 150, label: $"#{i}")));

        Assert.All(calls, c => Assert.Equal("Required", c.Behavior));
        Assert.All(calls, c => Assert.Equal(browser.SessionId![^4..], c.Session));
        var ordered = calls.OrderBy(c => c.Start).ToArray();
        for (var i = 1; i < ordered.Length; i++)
        {
            Assert.True(ordered[i].Start >= ordered[i - 1].End, $"two writers overlapped: {ordered[i - 1]} and {ordered[i]}");
        }
    }

    [Fact]
    public async Task ReadOnlyRequestsOfOneSessionOverlap()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();

        var calls = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => SlowCall.RunAsync(browser, "readonly", 1000, label: $"#{i}")));

        Assert.All(calls, c => Assert.Equal("ReadOnly", c.Behavior));
        Assert.All(calls, c => Assert.Equal(browser.SessionId![^4..], c.Session));
        // All four were inside their action at one instant: the last to start started before the first to end ended.
        var lastStart = calls.Max(c => c.Start);
        var firstEnd = calls.Min(c => c.End);
        Assert.True(lastStart < firstEnd, $"read-only requests did not all overlap: {string.Join(", ", calls.Select(c => c.ToString()))}");
    }

    [Fact]
    public async Task AReadOnlyRequestWaitsForTheRunningWriter()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");

        var writerTask = SlowCall.RunAsync(browser, "required", 800, tag, "writer");
        await SlowCall.WaitUntilRunningAsync(_app, tag, 1); // the writer holds the lock now
        var reader = await SlowCall.RunAsync(browser, "readonly", 10, label: "reader");
        var writer = await writerTask;

        Assert.True(reader.Start >= writer.End, $"the reader ran while the writer held the lock: {writer} / {reader}");
    }

    [Fact]
    public async Task AWriterDoesNotWaitForRunningReaders()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");

        var readerTasks = Enumerable.Range(1, 2).Select(i => SlowCall.RunAsync(browser, "readonly", 1500, tag, $"reader{i}")).ToArray();
        await SlowCall.WaitUntilRunningAsync(_app, tag, 2); // both readers are inside their action
        var writer = await SlowCall.RunAsync(browser, "required", 10, label: "writer");
        var readers = await Task.WhenAll(readerTasks);

        Assert.All(readers, r => Assert.True(writer.Overlaps(r) && writer.End <= r.End, $"the writer waited for a reader: {r} / {writer}"));
    }

    [Fact]
    public async Task ADisabledRequestDoesNotWaitForTheRunningWriter()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");

        var writerTask = SlowCall.RunAsync(browser, "required", 1500, tag, "writer");
        await SlowCall.WaitUntilRunningAsync(_app, tag, 1);
        var disabled = await SlowCall.RunAsync(browser, "disabled", 10, label: "disabled");
        var writer = await writerTask;

        Assert.Equal("Disabled", disabled.Behavior);
        Assert.Null(disabled.Session);
        Assert.True(disabled.End <= writer.End, $"the disabled request waited for the writer: {writer} / {disabled}");
    }

    [Fact]
    public async Task WritersOfDifferentSessionsDoNotWaitForEachOther()
    {
        var one = _app.NewBrowser();
        var two = _app.NewBrowser();
        await one.StartSessionAsync();
        await two.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");

        var firstTask = SlowCall.RunAsync(one, "required", 1500, tag, "one");
        await SlowCall.WaitUntilRunningAsync(_app, tag, 1);
        var second = await SlowCall.RunAsync(two, "required", 10, label: "two");
        var first = await firstTask;

        Assert.True(first.Overlaps(second), $"a writer of another session waited: {first} / {second}");
    }
}
