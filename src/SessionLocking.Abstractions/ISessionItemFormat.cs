namespace SessionLocking;

/// <summary>
/// How a store's item bytes map to session values. The default is SessionLocking's own format (a format byte, a type
/// alias the application allowed, then the value serialized by <see cref="ISessionValueSerializer"/>). A store that
/// shares a foreign format (for example the classic ASP.NET Redis provider's) registers its own with
/// <c>UseItemFormat</c>. Implementations never load a type named by stored data, and fail with
/// <see cref="SessionSerializationException"/> naming the item.
/// </summary>
public interface ISessionItemFormat
{
    /// <summary>Whether the object API (<c>Session["name"] = value</c>) may store values of <paramref name="type"/>.</summary>
    /// <param name="type">The value's runtime type.</param>
    bool CanStore(Type type);

    /// <summary>Encodes a value written through the object API or <c>Set&lt;T&gt;</c>.</summary>
    /// <param name="name">The item's name (for errors).</param>
    /// <param name="value">The value; may be null.</param>
    /// <param name="type">The type to store it as.</param>
    /// <remarks>
    /// Must be deterministic: the session encodes each mutable object it decodes once right away and again at the end
    /// of the request, and writes the item back only when the two differ (reading alone never writes).
    /// </remarks>
    byte[] Encode(string name, object? value, Type type);

    /// <summary>Encodes bytes written through ASP.NET Core's <c>ISession.Set</c>.</summary>
    /// <param name="name">The item's name (for errors).</param>
    /// <param name="value">The bytes.</param>
    byte[] EncodeBytes(string name, ReadOnlySpan<byte> value);

    /// <summary>Reads a value for the object API: only types the application allowed come back.</summary>
    /// <param name="name">The item's name (for errors).</param>
    /// <param name="stored">The stored bytes.</param>
    object? Decode(string name, byte[] stored);

    /// <summary>Reads a value as the caller's type (<c>Get&lt;T&gt;</c>).</summary>
    /// <param name="name">The item's name (for errors).</param>
    /// <param name="stored">The stored bytes.</param>
    /// <param name="type">The type to read.</param>
    object? Decode(string name, byte[] stored, Type type);

    /// <summary>The bytes ASP.NET Core's <c>ISession.TryGetValue</c> returns for a stored item.</summary>
    /// <param name="name">The item's name (for errors).</param>
    /// <param name="stored">The stored bytes.</param>
    byte[] DecodeBytes(string name, byte[] stored);

    /// <summary>True when <paramref name="stored"/> holds bytes written through <c>ISession.Set</c> (each read gets its own copy).</summary>
    /// <param name="stored">The stored bytes.</param>
    bool IsBytes(byte[] stored);
}
