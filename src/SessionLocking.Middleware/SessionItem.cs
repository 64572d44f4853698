using SessionLocking.Serialization;

namespace SessionLocking;

/// <summary>
/// One item of a request's session: the bytes to store and, once the application read or assigned it as an object,
/// that object. An object decoded from stored bytes carries its own baseline, the bytes of encoding it right after it
/// was decoded: it has changed only when encoding it again gives other bytes than that baseline. Comparing with the
/// stored bytes instead would call every value changed whose round trip is not byte-identical (a type that lacks
/// members of the stored value, a base class, <c>object</c>), and write it back without what the reader did not know.
/// </summary>
internal sealed class SessionItem
{
    private byte[]? _decodedFrom;
    private byte[]? _baseline;
    private Type? _type;

    public SessionItem(byte[] stored) => Stored = stored;

    /// <summary>The bytes to store: the loaded ones until the application changes the item.</summary>
    public byte[] Stored { get; private set; }

    /// <summary>True when the application holds <see cref="Value"/> (read or assigned as an object).</summary>
    public bool HasValue { get; private set; }

    /// <summary>The object the application holds, when <see cref="HasValue"/>.</summary>
    public object? Value { get; private set; }

    /// <summary>The application assigned the item (always a change); <paramref name="type"/> is null for bytes written through ISession.</summary>
    public void Assign(byte[] stored, object? value, Type? type)
    {
        Stored = stored;
        _decodedFrom = _baseline = null;
        Hold(type is null ? null : value, type, type is not null);
    }

    /// <summary>
    /// <paramref name="value"/> was decoded from <see cref="Stored"/> as <paramref name="type"/> (null for a null value)
    /// and handed to the application. A mutable one gets its baseline now, once: what it encodes to before the
    /// application can change it. One that cannot be encoded gets none: it counts as changed, and encoding it at the end
    /// of the request reports the error, as for an assigned value.
    /// </summary>
    public void Decoded(string name, object? value, Type? type, ISessionItemFormat format)
    {
        Hold(value, type, hasValue: true);
        _decodedFrom = Stored;
        _baseline = null;
        if (!SessionValueCodec.IsImmutable(type))
        {
            try
            {
                _baseline = format.Encode(name, value, type!);
            }
            catch (SessionSerializationException)
            {
                // No baseline: reading must not fail because the value could not be written back.
            }
        }
    }

    /// <summary>
    /// Encodes a mutable value again, as the type it was read as or assigned with. Unchanged since it was decoded:
    /// <see cref="Stored"/> stays the bytes it was decoded from, byte for byte, and the result is null. Otherwise the
    /// new bytes are stored and returned.
    /// </summary>
    public byte[]? Refresh(string name, ISessionItemFormat format)
    {
        if (!HasValue || SessionValueCodec.IsImmutable(_type))
        {
            return null;
        }

        var encoded = format.Encode(name, Value, _type!);
        if (_baseline is not null && _baseline.AsSpan().SequenceEqual(encoded))
        {
            Stored = _decodedFrom!;
            return null;
        }

        Stored = encoded;
        return encoded;
    }

    private void Hold(object? value, Type? type, bool hasValue)
    {
        HasValue = hasValue;
        Value = value;
        _type = type;
    }
}
