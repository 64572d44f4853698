namespace SessionLocking.Redis;

/// <summary>
/// One session as this server last loaded or wrote it (<see cref="RedisSessionCache"/>).
/// </summary>
/// <param name="SessionId">The session's id.</param>
/// <param name="Version">The version Redis gave these items (field <c>ver</c>), or null when it gave none: then the entry
/// only serves as the base of the write-back of the lock it was loaded under, and a load does not send it.</param>
/// <param name="Items">The items, read-only; the arrays are never changed.</param>
/// <param name="LockToken">The token of the lock it was loaded or written under (0 for a read-only load): a write-back
/// under that lock knows the session's items before its changes from this entry.</param>
/// <param name="Size">The bytes it is counted as (<see cref="RedisSessionCache.Size"/>).</param>
internal sealed record RedisCachedSession(string SessionId, string? Version, IReadOnlyDictionary<string, byte[]> Items, long LockToken, long Size);
