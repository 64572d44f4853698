namespace SessionLocking;

/// <summary>Left in DI by <c>AddStoreMode</c>: configuration may choose this store by name.</summary>
internal sealed record SessionStoreModeRegistration(string Mode, Func<IServiceProvider, ISessionStateStore> Factory);

/// <summary>Left in DI by <c>AddStore</c>: a store was registered in code, so configuration does not choose one.</summary>
internal sealed record ExplicitSessionStore(Type StoreType);
