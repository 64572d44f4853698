namespace MvcApp.Models;

/// <summary>What the cart page shows.</summary>
public sealed record CartViewModel(Cart Cart, bool IsNewSession);

/// <summary>What the session page shows.</summary>
public sealed record SessionPageViewModel(
    string MaskedId,
    bool IsNewSession,
    bool IsReadOnly,
    int Timeout,
    string Mode,
    IReadOnlyList<string> Keys,
    string? Message);

/// <summary>Session id helpers for display.</summary>
public static class SessionIdMask
{
    /// <summary>Hides all but the last four characters of a session id (never show a whole id on a page).</summary>
    public static string Mask(string id) =>
        id.Length <= 4 ? new string('•', id.Length) : new string('•', id.Length - 4) + id[^4..];
}
