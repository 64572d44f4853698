namespace SessionLocking;

/// <summary>
/// Identifies one holder's lock on a session: a fencing token that only increases. It is opaque to the
/// middleware, which only hands it back to the store that issued it.
/// </summary>
/// <param name="Token">The store's fencing token.</param>
public readonly record struct SessionLockId(long Token)
{
    /// <inheritdoc />
    public override string ToString() => Token.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
