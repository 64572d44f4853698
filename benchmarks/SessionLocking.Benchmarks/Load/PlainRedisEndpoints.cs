using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// The "plain Redis" floor of scenario 2: the same paths as the session set-ups, but the session is one Redis hash
/// named by a cookie, read with one <c>HGETALL</c> (<c>GET /read</c>) or <c>HGETALL</c> + <c>HSET</c>
/// (<c>POST /write</c>), with no lock, no script and no expiry: the cheapest a Redis-backed session can be. The client
/// is StackExchange.Redis with the socket manager the Redis store uses (<c>SocketManager.ThreadPool</c>).
/// </summary>
internal static class PlainRedisEndpoints
{
    private const string Cookie = "floor";
    private static readonly byte[] Ok = "ok"u8.ToArray();

    public static void AddPlainRedis(this IServiceCollection services, string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.SocketManager = SocketManager.ThreadPool;
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(options));
    }

    public static void Map(WebApplication app)
    {
        var redis = app.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

        app.MapPost("/init", async (HttpContext context) =>
        {
            var id = Guid.NewGuid().ToString("N");
            await redis.HashSetAsync(Key(id), [new HashEntry("user", "user-" + id), new HashEntry("n", 0)]);
            context.Response.Headers.SetCookie = $"{Cookie}={id}; path=/; httponly";
            await context.Response.Body.WriteAsync(Ok);
        });

        app.MapPost("/write", async (HttpContext context) =>
        {
            var key = Key(context.Request.Cookies[Cookie]);
            var fields = await redis.HashGetAllAsync(key);
            var (user, n) = Read(fields);
            await redis.HashSetAsync(key, "n", n + 1);
            if (user is null)
            {
                context.Response.StatusCode = 500;
            }

            await context.Response.Body.WriteAsync(Ok);
        });

        app.MapGet("/read", async (HttpContext context) =>
        {
            var (user, _) = Read(await redis.HashGetAllAsync(Key(context.Request.Cookies[Cookie])));
            if (user is null)
            {
                context.Response.StatusCode = 500;
            }

            await context.Response.Body.WriteAsync(Ok);
        });
    }

    private static RedisKey Key(string? id) => "floor:" + (id ?? "none");

    private static (string? User, long N) Read(HashEntry[] fields)
    {
        string? user = null;
        long n = 0;
        foreach (var field in fields)
        {
            if (field.Name == "user")
            {
                user = field.Value;
            }
            else if (field.Name == "n")
            {
                n = (long)field.Value;
            }
        }

        return (user, n);
    }
}
