using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>Errors and warnings say what to do: the item, its type as C# writes it, the endpoint, and why it shows up where it does.</summary>
public sealed class ErrorMessageTests
{
    [Fact]
    public async Task A_change_in_place_that_cannot_be_saved_names_the_item_the_CSharp_type_the_endpoint_and_why_it_fails_at_the_end()
    {
        await using var host = await TestHost.StartAsync();
        using var client = host.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/graph/store")).StatusCode);
        var key = new SessionKey(client.SessionId!).ToString();

        using var response = await client.PostAsync("/graph/link");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var logged = Assert.Single(TestLog.Events, e => e.Id.Name == "WriteBackFailed" && e.Message.Contains(key, StringComparison.Ordinal));
        Assert.Contains("'graph'", logged.Message);
        Assert.Contains("List<TestEndpoints.Node>", logged.Message);
        Assert.DoesNotContain("Version=", logged.Message);
        Assert.DoesNotContain("`1", logged.Message);
        Assert.Contains("POST /graph/link", logged.Message);
        Assert.Contains("in place", logged.Message);
        Assert.Contains("end of the request", logged.Message);
    }

    [Fact]
    public async Task A_value_that_cannot_be_serialized_when_set_names_the_CSharp_type()
    {
        var codec = new Serialization.SessionValueCodec(
            new Serialization.JsonSessionValueSerializer(Microsoft.Extensions.Options.Options.Create(new LockedSessionOptions())),
            Microsoft.Extensions.Options.Options.Create(new LockedSessionOptions()));
        var node = new TestServer.TestEndpoints.Node();
        node.Next = node;

        var error = Assert.Throws<SessionSerializationException>(() => codec.EncodeTyped("loop", new Dictionary<string, TestServer.TestEndpoints.Node> { ["a"] = node }, typeof(Dictionary<string, TestServer.TestEndpoints.Node>)));

        Assert.Contains("'loop'", error.Message);
        Assert.Contains("Dictionary<String, TestEndpoints.Node>", error.Message);
        Assert.DoesNotContain("`2", error.Message);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task The_read_only_warning_names_the_changed_items_and_the_endpoint()
    {
        await using var host = await TestHost.StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=cart&value=1")).Dispose();
        var key = new SessionKey(client.SessionId!).ToString();

        (await client.PostAsync("/readonly-changes")).Dispose();

        var warning = Assert.Single(TestLog.Events, e => e.Id.Name == "ReadOnlyChangesDiscarded" && e.Message.Contains(key, StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("POST /readonly-changes", warning.Message);
        Assert.Contains("lastSeen", warning.Message);
        Assert.Contains("cart", warning.Message);
        Assert.Contains("Timeout", warning.Message);
    }
}
