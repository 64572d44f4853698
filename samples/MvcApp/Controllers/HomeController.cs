using Microsoft.AspNetCore.Mvc;
using SessionLocking;

namespace MvcApp.Controllers;

/// <summary>The home page. It uses no session itself (Required by default, but it never reads or writes it).</summary>
public sealed class HomeController : Controller
{
    [HttpGet("/")]
    public IActionResult Index() => View();

    /// <summary>
    /// The error page of the exception handler (outside Development). Any method: the handler re-executes the
    /// failed request's method. It needs no session.
    /// </summary>
    [Route("/error")]
    [SessionState(SessionStateBehavior.Disabled)]
    [ResponseCache(Duration = 0, Location = ResponseCacheLocation.None, NoStore = true)]
    public IActionResult Error() => View();
}
