namespace SessionLocking;

/// <summary>
/// Turns session values into bytes and back. The type always comes from the application's code (the
/// declared type of <c>Get&lt;T&gt;</c>, or a type the application allowed), never from the stored data.
/// The default uses System.Text.Json.
/// </summary>
public interface ISessionValueSerializer
{
    /// <summary>Serializes a value of <paramref name="type"/>.</summary>
    /// <param name="value">The value (may be null).</param>
    /// <param name="type">The type to serialize it as.</param>
    byte[] Serialize(object? value, Type type);

    /// <summary>Deserializes bytes produced by <see cref="Serialize"/> as <paramref name="type"/>.</summary>
    /// <param name="data">The serialized value.</param>
    /// <param name="type">The type to read.</param>
    object? Deserialize(ReadOnlySpan<byte> data, Type type);
}
