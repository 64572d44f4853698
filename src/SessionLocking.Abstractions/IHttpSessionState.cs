namespace SessionLocking;

/// <summary>
/// The classic session API of <c>System.Web.SessionState.HttpSessionState</c>, over the same items as
/// <c>HttpContext.Session</c>. Item names are case-insensitive. Values read through the object API are
/// restricted to the types the application allowed (see <c>LockedSessionOptions.AllowType</c>).
/// Enumerating the session yields its keys, as in classic ASP.NET.
/// </summary>
public interface IHttpSessionState : IEnumerable<string>
{
    /// <summary>The session id (24 characters of <c>a-z0-5</c>).</summary>
    string SessionID { get; }

    /// <summary>
    /// Minutes of inactivity after which the session expires. Changing it is saved with the session.
    /// Must be greater than 0 and at most 525,600 (one year).
    /// </summary>
    int Timeout { get; set; }

    /// <summary>True when the session was created by the current request.</summary>
    bool IsNewSession { get; }

    /// <summary>True when the request is <see cref="SessionStateBehavior.ReadOnly"/>: changes are not saved.</summary>
    bool IsReadOnly { get; }

    /// <summary>True once <see cref="Abandon"/> was called in this request.</summary>
    bool IsAbandoned { get; }

    /// <summary>Where session state is kept.</summary>
    SessionStateMode Mode { get; }

    /// <summary>Always false: the session id travels in a cookie.</summary>
    bool IsCookieless { get; }

    /// <summary>Always <see cref="HttpCookieMode.UseCookies"/>.</summary>
    HttpCookieMode CookieMode { get; }

    /// <summary>The number of items.</summary>
    int Count { get; }

    /// <summary>The item names, in the order they were added.</summary>
    IReadOnlyList<string> Keys { get; }

    /// <summary>Gets or sets an item by name; null when there is none. Setting null stores null.</summary>
    /// <param name="name">The item name (case-insensitive).</param>
    object? this[string name] { get; set; }

    /// <summary>Gets or sets an item by position.</summary>
    /// <param name="index">The zero-based position.</param>
    object? this[int index] { get; set; }

    /// <summary>Adds or replaces an item.</summary>
    /// <param name="name">The item name.</param>
    /// <param name="value">The value.</param>
    void Add(string name, object? value);

    /// <summary>Removes an item; nothing happens when there is none.</summary>
    /// <param name="name">The item name.</param>
    void Remove(string name);

    /// <summary>Removes the item at a position.</summary>
    /// <param name="index">The zero-based position.</param>
    void RemoveAt(int index);

    /// <summary>Removes every item.</summary>
    void Clear();

    /// <summary>Removes every item (same as <see cref="Clear"/>).</summary>
    void RemoveAll();

    /// <summary>
    /// Ends the session: at the end of the request its data is removed from the store. The items stay
    /// readable for the rest of the request; the next request with this id gets a new session.
    /// </summary>
    void Abandon();

    /// <summary>
    /// Reads an item as <typeparamref name="T"/>. Any type can be read this way, because the caller names it;
    /// the stored data never chooses a type. Returns default when there is no such item.
    /// </summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <param name="name">The item name.</param>
    T? Get<T>(string name);

    /// <summary>Stores an item as <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The type to store.</typeparam>
    /// <param name="name">The item name.</param>
    /// <param name="value">The value.</param>
    void Set<T>(string name, T value);

    /// <summary>
    /// Gives the current session a new id and keeps its data (for example after sign-in, against session
    /// fixation). The new id is sent in the cookie of this response and the old id stops working at the end
    /// of the request. Must be called before the response starts, in a request that may write.
    /// </summary>
    void RegenerateId();
}
