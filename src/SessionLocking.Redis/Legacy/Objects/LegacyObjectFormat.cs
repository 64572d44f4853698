namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The classic application's BinaryFormatter objects in its session items: read into the mapped types
/// (<see cref="LegacyObjectReader"/>) and written back in its format (<see cref="LegacyObjectWriter"/>).
/// </summary>
internal sealed class LegacyObjectFormat(RedisSessionStateProviderStoreOptions options)
{
    private readonly LegacyTypeMap _map = new(options.LegacyTypes);
    private readonly LegacyObjectLimits _limits = new(options.MaxLegacyObjectBytes, options.MaxLegacyObjectDepth, options.MaxLegacyObjectElements);

    /// <summary>True when values of <paramref name="type"/> are written as legacy objects (a mapped type, or a collection of one).</summary>
    public bool Handles(Type type) => LegacyObjectWriter.Involves(type, _map);

    /// <summary>True when <paramref name="stored"/>[<paramref name="offset"/>..] is a BinaryFormatter payload.</summary>
    public static bool IsPayload(byte[] stored, int offset) => stored.Length > offset && LegacyObjectReader.IsPayload(stored.AsSpan(offset));

    public object? Read(string name, byte[] stored, int offset, Type type) => LegacyObjectReader.Read(name, stored, offset, type, _map, _limits);

    public byte[] Write(string name, object value) => LegacyObjectWriter.Write(name, value, _map);
}
