namespace SessionLocking.Redis.Legacy;

/// <summary>
/// A mapped legacy type as the store uses it: how its members resolve, and the names to write it with. The assembly
/// name and member list the data last had are remembered, so that what is written back carries the legacy side's
/// full assembly name and the members in the order it wrote them.
/// </summary>
internal sealed class LegacyMappedType
{
    private readonly Dictionary<string, LegacyMember?> _resolved = new(StringComparer.Ordinal);
    private volatile string _assemblyName;
    private volatile string[]? _seenMembers;

    public LegacyMappedType(LegacyTypeMapping mapping)
    {
        Mapping = mapping;
        _assemblyName = mapping.LegacyAssemblyName;
    }

    public LegacyTypeMapping Mapping { get; }

    public Type Type => Mapping.Type;

    public string FullName => Mapping.LegacyFullName;

    /// <summary>The legacy assembly's name to write: the full one the data had, else the mapping's.</summary>
    public string AssemblyName => _assemblyName;

    /// <summary>The member that a legacy member reads into, or null when the type has none for it.</summary>
    public LegacyMember? Member(string legacyName)
    {
        lock (_resolved)
        {
            if (!_resolved.TryGetValue(legacyName, out var member))
            {
                member = LegacyMember.Resolve(Type, Mapping.Members, legacyName);
                if (_resolved.Count < 1024)
                {
                    _resolved[legacyName] = member;
                }
            }

            return member;
        }
    }

    /// <summary>The members to write: the ones the data last had, else those of the .NET type under their legacy names.</summary>
    public IReadOnlyList<string> LegacyMembers => _seenMembers ?? [.. LegacyMember.DefaultLegacyNames(Type, Mapping.Members)];

    /// <summary>Remembers the names a record of this type had (only once all of its members were read into the type).</summary>
    public void Seen(string assemblyName, IReadOnlyList<string> members)
    {
        _assemblyName = assemblyName;
        _seenMembers = [.. members];
    }
}
