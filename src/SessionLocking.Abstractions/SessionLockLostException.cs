namespace SessionLocking;

/// <summary>
/// Thrown at the end of a request whose lock was force-released (it ran past the execution timeout) and
/// possibly taken by another request: its session changes were rejected by the store and not saved.
/// The newer holder's data is untouched.
/// </summary>
public sealed class SessionLockLostException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened.</param>
    public SessionLockLostException(string message) : base(message)
    {
    }
}
