using MvcApp.Models;
using MvcApp.Services;
using SessionLocking;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddControllersWithViews();

// Classic ASP.NET session state with per-request locks. Options bind from the "SessionState" section of
// appsettings.json first (the store is chosen there too: in memory unless configured otherwise), then this
// delegate runs. The object API (Session["cart"] = cart) only reads back types allowed here.
// No options.Events.OnSessionStart (classic Session_Start): with a handler, every new session is stored and gets a
// cookie on its first Required request, and this sample shows that a session nothing wrote sends no cookie.
// docs/migration.md shows how to bring a Session_Start handler over.
builder.Services.AddLockedSession(options =>
{
    options.AllowType<Cart>();
    options.AllowType<CheckoutState>();
});

builder.Services.AddSingleton<AppClock>();
builder.Services.AddSingleton<RunningRequests>();

var app = builder.Build();
app.Services.GetRequiredService<AppClock>(); // starts the clock the slow actions report in

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error");
}

// Static files are served before routing, so they never touch the session (classic: no session for them).
app.UseStaticFiles();
app.UseRouting();
app.UseLockedSession();

app.MapControllers();

// A minimal API endpoint declares its behaviour with WithSessionState instead of an attribute.
app.MapGet("/api/cart/count", (HttpContext context) =>
    {
        var cart = context.GetSessionState()[CartKeys.Cart] as Cart;
        return Results.Json(new { count = cart?.ItemCount ?? 0 });
    })
    .WithSessionState(SessionStateBehavior.ReadOnly);

app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
