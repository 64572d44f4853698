using Microsoft.AspNetCore.Mvc;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>
/// The base class of migrated controllers. System.Web.Mvc's <c>Controller</c> had a <c>Session</c> property; this one
/// gives the same name to SessionLocking's classic API, so code such as <c>Session["checkout"] as CheckoutState</c>
/// moves over unchanged. It carries no <c>[SessionState]</c> attribute: a controller without one is
/// <see cref="SessionStateBehavior.Required"/> (the configured default), and an attribute on a derived controller
/// or action decides for it, exactly as in classic MVC.
/// </summary>
public abstract class ClassicController : Controller
{
    /// <summary>The session of this request (classic <c>HttpSessionState</c>); throws on a Disabled endpoint.</summary>
    protected IHttpSessionState Session => HttpContext.GetSessionState();
}
