namespace SessionLocking.Redis.Legacy;

/// <summary>The bounds one legacy object item is read within (<see cref="RedisSessionStateProviderStoreOptions"/>).</summary>
internal sealed record LegacyObjectLimits(int MaxBytes, int MaxDepth, int MaxElements);
