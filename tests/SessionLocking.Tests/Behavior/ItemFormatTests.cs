using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Behavior;

/// <summary>A store chooses its item format (issue "Structure"): the middleware's envelope is only the default.</summary>
public sealed class ItemFormatTests
{
    [Fact]
    public async Task A_registered_item_format_decides_the_bytes_the_store_keeps()
    {
        await using var host = await TestHost.StartAsync(configureStore: b => b.UseItemFormat<PlainTextFormat>());
        using var client = host.CreateClient();

        (await client.PostAsync("/set?key=name&value=Ada")).Dispose();
        (await client.PostAsync("/core/set?key=raw&value=bytes")).Dispose();
        var id = (await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info")).Id;
        var stored = await host.Services.GetRequiredService<ISessionStateStore>().GetSharedAsync(id, default);

        Assert.Equal("text:Ada", Encoding.UTF8.GetString(stored.Data!.Items["name"]));
        Assert.Equal("bytes:bytes", Encoding.UTF8.GetString(stored.Data.Items["raw"]));
        Assert.Equal("Ada", await client.GetJsonAsync<string>("/get?key=name"));
        Assert.Equal("bytes", await client.GetJsonAsync<string>("/core/get?key=raw"));
    }

    /// <summary>Strings only, as text with a marker; enough to see whose format the store got.</summary>
    private sealed class PlainTextFormat : ISessionItemFormat
    {
        public bool CanStore(Type type) => type == typeof(string);

        public byte[] Encode(string name, object? value, Type type) => Encoding.UTF8.GetBytes("text:" + value);

        public byte[] EncodeBytes(string name, ReadOnlySpan<byte> value) => [.. Encoding.UTF8.GetBytes("bytes:"), .. value];

        public object? Decode(string name, byte[] stored) => Body(stored);

        public object? Decode(string name, byte[] stored, Type type) => Body(stored);

        public byte[] DecodeBytes(string name, byte[] stored) => Encoding.UTF8.GetBytes(Body(stored));

        public bool IsBytes(byte[] stored) => Encoding.UTF8.GetString(stored).StartsWith("bytes:", StringComparison.Ordinal);

        private static string Body(byte[] stored)
        {
            var text = Encoding.UTF8.GetString(stored);
            return text[(text.IndexOf(':', StringComparison.Ordinal) + 1)..];
        }
    }
}
