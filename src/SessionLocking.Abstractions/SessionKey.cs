using System.Security.Cryptography;
using System.Text;

namespace SessionLocking.Diagnostics;

/// <summary>
/// What logs and traces show instead of a session id: the first 8 hex characters of its SHA-256, enough to
/// follow one session, useless to hijack it. Hashed only when a log event is actually written. Stores log and trace
/// with it too, so that one session's events line up across the middleware and the store.
/// </summary>
/// <param name="sessionId">The session id (never written anywhere itself).</param>
public readonly struct SessionKey(string sessionId)
{
    /// <inheritdoc />
    public override string ToString()
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes(sessionId), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }
}
