using SessionLocking;

namespace SessionLocking.TestServer;

/// <summary>
/// For multi-process tests of Session_End: with <c>TestServer:SessionEndLog</c> set, an <c>OnSessionEnd</c> handler that
/// appends "start id" when it begins and "end id reason seat" when it finishes; with <c>TestServer:SessionEndHang</c>
/// true it never finishes (until the host stops), so the process can be killed while it holds claims.
/// </summary>
public static class SessionEndFile
{
    private static readonly Lock Sync = new();

    public static Func<SessionEndContext, Task> Handler(string path, bool hang) => async context =>
    {
        Append(path, $"start {context.SessionId}");
        if (hang)
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }

        Append(path, $"end {context.SessionId} {context.Reason} {context.Session["seat"] as string}");
    };

    private static void Append(string path, string line)
    {
        lock (Sync)
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }
    }
}
