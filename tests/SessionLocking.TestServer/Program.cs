using SessionLocking.TestServer;

// A small server for multi-process tests and load benchmarks: the test endpoints on the locked session,
// configured (store, options) through the SessionState configuration section and environment variables.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var sessionEndLog = builder.Configuration["TestServer:SessionEndLog"];
var sessionEndHang = builder.Configuration.GetValue<bool>("TestServer:SessionEndHang");
builder.Services.AddLockedSession(o =>
{
    if (sessionEndLog is not null)
    {
        o.Events.OnSessionEnd = SessionEndFile.Handler(sessionEndLog, sessionEndHang);
    }
}).AddRedisStoreMode(); // SessionState:Mode=Redis chooses Redis
builder.Services.AddSingleton<WriterTracker>();
builder.Services.AddSingleton<HoldGate>();
var app = builder.Build();
app.UseRouting();
app.UseLockedSession();
app.MapTestEndpoints();
app.MapFaultEndpoints();
app.MapGet("/tracker", (WriterTracker tracker) => Results.Ok(new { tracker.Violations, tracker.MaxReadersTogether }))
    .WithSessionState(SessionLocking.SessionStateBehavior.Disabled);
app.Run();

/// <summary>Entry point.</summary>
public partial class Program;
