using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// A connection upgrade (a WebSocket over HTTP/1.1's <c>Upgrade</c>, or HTTP/2's extended CONNECT) would keep the
/// session's lock for the connection's whole life: the session is saved and released as the upgrade is accepted, just
/// before it (a failed save fails the accept, and the connection is never upgraded). Classic ASP.NET did the same: its
/// request ended, saving the session, before the WebSocket handler ran.
/// </summary>
internal static class StreamUpgradeRelease
{
    /// <summary>
    /// Wraps the upgrade features of <paramref name="context"/> when the request is one: the server's own (for a
    /// <c>UseWebSockets()</c> after <c>UseLockedSession()</c>, which takes them from here) and the WebSocket feature
    /// (for a <c>UseWebSockets()</c> before it, which took the server's already).
    /// </summary>
    public static void Install(HttpContext context, Func<Task> release)
    {
        if (context.Features.Get<IHttpWebSocketFeature>() is { IsWebSocketRequest: true } webSockets)
        {
            context.Features.Set<IHttpWebSocketFeature>(new WebSocketAccept(webSockets, release));
        }

        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            context.Features.Set<IHttpUpgradeFeature>(new Upgrade(upgrade, release));
        }

        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            context.Features.Set<IHttpExtendedConnectFeature>(new ExtendedConnect(connect, release));
        }
    }

    private sealed class WebSocketAccept(IHttpWebSocketFeature inner, Func<Task> release) : IHttpWebSocketFeature
    {
        public bool IsWebSocketRequest => inner.IsWebSocketRequest;

        public async Task<System.Net.WebSockets.WebSocket> AcceptAsync(WebSocketAcceptContext context)
        {
            await release();
            return await inner.AcceptAsync(context);
        }
    }

    private sealed class Upgrade(IHttpUpgradeFeature inner, Func<Task> release) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync()
        {
            await release();
            return await inner.UpgradeAsync();
        }
    }

    private sealed class ExtendedConnect(IHttpExtendedConnectFeature inner, Func<Task> release) : IHttpExtendedConnectFeature
    {
        public bool IsExtendedConnect => inner.IsExtendedConnect;

        public string? Protocol => inner.Protocol;

        public async ValueTask<Stream> AcceptAsync()
        {
            await release();
            return await inner.AcceptAsync();
        }
    }
}
