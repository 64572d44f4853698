namespace SessionLocking;

/// <summary>Where session state is kept; the values match <c>System.Web.SessionState.SessionStateMode</c>.</summary>
public enum SessionStateMode
{
    /// <summary>Session state is disabled.</summary>
    Off = 0,

    /// <summary>In the memory of this server (the in-memory store).</summary>
    InProc = 1,

    /// <summary>Classic out-of-process state server; not available, listed for compatibility.</summary>
    StateServer = 2,

    /// <summary>Classic SQL Server provider; not available, listed for compatibility.</summary>
    SQLServer = 3,

    /// <summary>A custom store, such as the Redis store.</summary>
    Custom = 4,
}
