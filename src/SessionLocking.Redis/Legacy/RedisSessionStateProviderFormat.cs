namespace SessionLocking;

/// <summary>
/// Which generation of Microsoft.Web.RedisSessionStateProvider the classic application runs: the layout of its keys
/// and the format of its session data.
/// </summary>
public enum RedisSessionStateProviderFormat
{
    /// <summary>
    /// Versions 2 to 4: keys <c>{app_id}_Data</c> (a hash, one field per item), <c>{app_id}_Write_Lock</c> and
    /// <c>{app_id}_Internal</c> (a hash with the field <c>SessionTimeout</c>); each item serialized by the provider's
    /// <c>redisSerializerType</c>.
    /// </summary>
    V4 = 4,

    /// <summary>
    /// Version 5: keys <c>{app_id}_SessionStateItemCollection</c> (the whole <c>SessionStateItemCollection</c>, binary),
    /// <c>{app_id}_WriteLock</c> and <c>{app_id}_SessionTimeout</c> (seconds).
    /// </summary>
    V5 = 5,
}
