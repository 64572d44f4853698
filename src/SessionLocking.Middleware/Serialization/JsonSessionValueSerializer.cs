using System.Text.Json;
using Microsoft.Extensions.Options;

namespace SessionLocking.Serialization;

/// <summary>The default <see cref="ISessionValueSerializer"/>: System.Text.Json with <see cref="LockedSessionOptions.JsonSerializerOptions"/>.</summary>
public sealed class JsonSessionValueSerializer : ISessionValueSerializer
{
    private readonly JsonSerializerOptions _jsonOptions;

    /// <summary>Creates the serializer.</summary>
    /// <param name="options">The session options.</param>
    public JsonSessionValueSerializer(IOptions<LockedSessionOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _jsonOptions = options.Value.JsonSerializerOptions;
    }

    /// <inheritdoc />
    public byte[] Serialize(object? value, Type type) => JsonSerializer.SerializeToUtf8Bytes(value, type, _jsonOptions);

    /// <inheritdoc />
    public object? Deserialize(ReadOnlySpan<byte> data, Type type) => JsonSerializer.Deserialize(data, type, _jsonOptions);
}
