var builder = WebApplication.CreateBuilder(args);
builder.Services.AddLockedSession();
var app = builder.Build();
app.UseRouting();
app.UseLockedSession();
app.MapGet("/", () => "SessionLocking sample");
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
