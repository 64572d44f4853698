namespace SessionLocking;

/// <summary>A session value could not be stored or read; the message names the key and the type.</summary>
public sealed class SessionSerializationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The item name.</param>
    /// <param name="typeName">The type involved.</param>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The serializer's error, if any.</param>
    public SessionSerializationException(string key, string typeName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
        TypeName = typeName;
    }

    /// <summary>The item name.</summary>
    public string Key { get; }

    /// <summary>The type involved.</summary>
    public string TypeName { get; }
}
