using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Release early, and never through a stream (issue 22): <c>HttpContext.ReleaseSessionAsync()</c> saves and releases
/// while the endpoint goes on; a WebSocket and a server-sent-events response release as they start, unless
/// <see cref="LockedSessionOptions.HoldLockThroughStreams"/> says to hold.
/// </summary>
public abstract partial class SessionBehaviorTests
{
    /// <summary>How long a Required request may take behind a stream that does not hold the lock (generous: a loaded machine).</summary>
    private static readonly TimeSpan NotBlocked = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_early_release_lets_a_queued_request_run_while_the_first_still_streams_and_it_sees_the_saved_data()
    {
        var steps = new StreamSteps();
        await using var first = await StartAsync(o => o.LockWaitTimeout = TimeSpan.FromSeconds(30), app: app => MapStreamEndpoints(app, steps));
        await using var second = await StartAsync(services: services => ShareStore(first.Services.GetRequiredService<ISessionStateStore>(), services));
        using var client = first.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = first.Services.GetRequiredService<SessionLockCoordinator>();

        var report = client.PostAsync("/report?value=saved");
        await steps.Entered.Task.WaitAsync(NotBlocked);
        var queued = client.PostAsync("/set?key=q&value=queued");
        await Until(() => coordinator.WaitingCount(id) == 1);
        steps.Release.SetResult();

        using var queuedResponse = await queued.WaitAsync(NotBlocked);
        var changeAfterRelease = await steps.Streaming.Task.WaitAsync(NotBlocked);
        var stillStreaming = !report.IsCompleted;
        using var elsewhere = second.CreateClient();
        elsewhere.SessionId = id;
        var seenElsewhere = await elsewhere.GetJsonAsync<string>("/get?key=report");
        steps.Finish.SetResult();
        using var reportResponse = await report;

        Output.WriteLine($"change after the release: {changeAfterRelease}");
        Assert.Equal(HttpStatusCode.OK, queuedResponse.StatusCode);
        Assert.True(stillStreaming, "the report ended before the queued request ran");
        Assert.Equal("saved", seenElsewhere);
        Assert.Equal(HttpStatusCode.OK, reportResponse.StatusCode);
        Assert.Equal("released, reads saved\ndone\n", await reportResponse.Content.ReadAsStringAsync());
        Assert.Contains("released early", changeAfterRelease);
        Assert.Contains("'late'", changeAfterRelease);
        Assert.Equal("saved", await client.GetJsonAsync<string>("/get?key=report"));
        Assert.Equal("queued", await client.GetJsonAsync<string>("/get?key=q"));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=late"));
    }

    [Fact]
    public async Task An_early_release_is_a_no_op_for_a_read_only_request()
    {
        var steps = new StreamSteps();
        await using var host = await StartAsync(app: app => MapStreamEndpoints(app, steps));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var response = await client.GetAsync("/report-readonly");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", await response.Content.ReadAsStringAsync());
    }

    /// <param name="hold">The option that restores classic holding.</param>
    /// <param name="path">The endpoint: written by hand, or <c>TypedResults.ServerSentEvents</c>.</param>
    [Theory]
    [InlineData(false, "/sse")]
    [InlineData(false, "/sse-typed")]
    [InlineData(true, "/sse")]
    public async Task A_server_sent_events_stream_held_open_does_not_block_a_Required_request_unless_told_to_hold(bool hold, string path)
    {
        var steps = new StreamSteps();
        await using var host = await StartAsync(
            o =>
            {
                o.LockWaitTimeout = TimeSpan.FromSeconds(60);
                o.HoldLockThroughStreams = hold;
            },
            app: app => MapStreamEndpoints(app, steps));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        using var http = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("Cookie", $"{SessionClient.CookieName}={id}");

        using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var firstEvent = await ReadUntilAsync(await stream.Content.ReadAsStreamAsync(), "\n\n");
        var required = client.PostAsync("/set?key=b&value=2");
        if (hold)
        {
            // Classic holding: the Required request waits for the stream.
            await Until(() => coordinator.WaitingCount(id) == 1);
            Assert.False(required.IsCompleted);
            steps.Finish.SetResult();
            using var afterStream = await required;
            Assert.Equal(HttpStatusCode.OK, afterStream.StatusCode);
            return;
        }

        using var response = await required.WaitAsync(NotBlocked);
        var streamStillOpen = !steps.Finish.Task.IsCompleted;
        var saved = await client.GetJsonAsync<string>("/get?key=sse");
        steps.Finish.SetResult();

        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        Assert.Equal("data: hello\n\n", firstEvent);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(streamStillOpen);
        Assert.Equal("opened", saved);
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=b"));
    }

    /// <param name="hold">The option that restores classic holding.</param>
    /// <param name="webSocketsBeforeSession">Where <c>UseWebSockets()</c> is: before <c>UseLockedSession()</c> (it takes the server's upgrade feature first) or after it.</param>
    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task A_WebSocket_held_open_does_not_block_a_Required_request_unless_told_to_hold(bool hold, bool webSocketsBeforeSession)
    {
        var steps = new StreamSteps();
        await using var host = await StartAsync(
            o =>
            {
                o.LockWaitTimeout = TimeSpan.FromSeconds(60);
                o.HoldLockThroughStreams = hold;
            },
            beforeSession: app =>
            {
                if (webSocketsBeforeSession)
                {
                    app.UseWebSockets();
                }
            },
            app: app =>
            {
                if (!webSocketsBeforeSession)
                {
                    app.UseWebSockets();
                }

                MapStreamEndpoints(app, steps);
            });
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var id = client.SessionId!;
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Cookie", $"{SessionClient.CookieName}={id}");

        await socket.ConnectAsync(new Uri($"ws://{host.Address.Authority}/ws"), CancellationToken.None);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        var required = client.PostAsync("/set?key=b&value=2");
        if (hold)
        {
            await Until(() => coordinator.WaitingCount(id) == 1);
            Assert.False(required.IsCompleted);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            using var afterSocket = await required;
            Assert.Equal(HttpStatusCode.OK, afterSocket.StatusCode);
            return;
        }

        using var response = await required.WaitAsync(NotBlocked);
        var socketStillOpen = socket.State == WebSocketState.Open;
        var saved = await client.GetJsonAsync<string>("/get?key=ws");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, received.Count));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(socketStillOpen);
        Assert.Equal("accepted", saved);
    }

    /// <summary>One event, then nothing until <paramref name="finish"/>: a stream held open.</summary>
    private static async IAsyncEnumerable<string> EventsUntil(Task finish, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return "hello";
        await finish.WaitAsync(cancellationToken);
    }

    private static async Task<string> ReadUntilAsync(Stream stream, string end)
    {
        var text = new StringBuilder();
        var buffer = new byte[256];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!text.ToString().Contains(end, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, deadline.Token);
            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    /// <summary>The steps a streaming endpoint of a test waits on or reports.</summary>
    private sealed class StreamSteps
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<string> Streaming { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Finish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static void MapStreamEndpoints(IEndpointRouteBuilder app, StreamSteps steps)
    {
        // A report: its last session change, then an early release, then a long stream.
        app.MapPost("/report", async (HttpContext context, string value) =>
        {
            var session = context.GetSessionState();
            session["report"] = value;
            steps.Entered.TrySetResult();
            await steps.Release.Task;
            await context.ReleaseSessionAsync();
            await context.ReleaseSessionAsync();
            var reads = session["report"] as string;
            string change;
            try
            {
                session["late"] = "x";
                change = "changed";
            }
            catch (InvalidOperationException ex)
            {
                change = ex.Message;
            }

            await context.Response.WriteAsync($"released, reads {reads}\n");
            await context.Response.Body.FlushAsync();
            steps.Streaming.TrySetResult(change);
            await steps.Finish.Task;
            await context.Response.WriteAsync("done\n");
        });

        app.MapGet("/report-readonly", async (HttpContext context) =>
        {
            await context.ReleaseSessionAsync();
            await context.Response.WriteAsync((string)context.GetSessionState()["a"]!);
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        app.MapGet("/sse", async (HttpContext context) =>
        {
            context.GetSessionState()["sse"] = "opened";
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: hello\n\n");
            await context.Response.Body.FlushAsync();
            await steps.Finish.Task.WaitAsync(context.RequestAborted);
        }).WithSessionState(SessionStateBehavior.Required);

        app.MapGet("/sse-typed", (HttpContext context) =>
        {
            context.GetSessionState()["sse"] = "opened";
            return TypedResults.ServerSentEvents(EventsUntil(steps.Finish.Task, context.RequestAborted));
        }).WithSessionState(SessionStateBehavior.Required);

        app.MapGet("/ws", async (HttpContext context) =>
        {
            context.GetSessionState()["ws"] = "accepted";
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, context.RequestAborted);
            var buffer = new byte[64];
            while (socket.State == WebSocketState.Open)
            {
                var read = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (read.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                }
            }
        }).WithSessionState(SessionStateBehavior.Required);
    }
}
