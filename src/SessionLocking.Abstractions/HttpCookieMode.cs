namespace SessionLocking;

/// <summary>How the session id travels; the values match <c>System.Web.HttpCookieMode</c>. Only cookies are supported.</summary>
public enum HttpCookieMode
{
    /// <summary>In the URL (not supported).</summary>
    UseUri = 0,

    /// <summary>In a cookie (the only mode supported).</summary>
    UseCookies = 1,

    /// <summary>Detected per browser (not supported).</summary>
    AutoDetect = 2,

    /// <summary>By device profile (not supported).</summary>
    UseDeviceProfile = 3,
}
