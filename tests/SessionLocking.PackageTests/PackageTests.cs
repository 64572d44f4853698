using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace SessionLocking.PackageTests;

/// <summary>
/// Packs the three packages the way a release would (<c>dotnet pack</c> of the src projects), checks what is inside,
/// then builds a brand-new web application that references the <c>SessionLocking</c> package from a local folder feed,
/// runs it on a free loopback port and uses a session through it. Everything happens in a temporary folder: its own
/// artifacts (the repository's bin and obj are not touched), its own NuGet packages folder and a version unique to the
/// run, so no package cached by an earlier run can stand in for a broken one.
/// </summary>
public sealed partial class PackageTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("sessionlocking-packages-").FullName;

    public PackageTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task EveryPackagePacksAndAFreshApplicationUsesThem()
    {
        var repo = RepositoryRoot();
        var version = $"0.0.1-packagetest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Random.Shared.Next(100000, 999999)}";
        var feed = Path.Combine(_root, "feed");
        var artifacts = Path.Combine(_root, "artifacts");
        var packages = Path.Combine(_root, "packages");
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packages };

        // 1. Pack. The later packs reuse the first one's build of SessionLocking.Abstractions (same artifacts, same version).
        string[] common = ["-c", "Release", "-o", feed, "--artifacts-path", artifacts, $"-p:Version={version}", "-nologo"];
        Log(await DotnetCli.RunAsync(
            ["pack", Path.Combine(repo, "src", "SessionLocking.Middleware", "SessionLocking.Middleware.csproj"), .. common], repo, environment, TimeSpan.FromSeconds(150)));
        Log(await DotnetCli.RunAsync(
            ["pack", Path.Combine(repo, "src", "SessionLocking.Abstractions", "SessionLocking.Abstractions.csproj"), "--no-build", .. common], repo, environment, TimeSpan.FromSeconds(60)));
        Log(await DotnetCli.RunAsync(
            ["pack", Path.Combine(repo, "src", "SessionLocking.Redis", "SessionLocking.Redis.csproj"), .. common], repo, environment, TimeSpan.FromSeconds(150)));

        AssertPackage(feed, "SessionLocking.Abstractions", version, "SessionLocking.Abstractions", dependsOn: null);
        AssertPackage(feed, "SessionLocking", version, "SessionLocking", dependsOn: "SessionLocking.Abstractions");
        var sessionLocking = Dependencies(feed, "SessionLocking", version);
        Assert.DoesNotContain(sessionLocking, d => d.Id.StartsWith("StackExchange.Redis", StringComparison.Ordinal)); // no Redis client for in-memory applications

        // The Redis store is built only on the public contract: it depends on the Abstractions, not on the middleware.
        AssertPackage(feed, "SessionLocking.Redis", version, "SessionLocking.Redis", dependsOn: "SessionLocking.Abstractions");
        var redis = Dependencies(feed, "SessionLocking.Redis", version);
        Assert.DoesNotContain(redis, d => d.Id == "SessionLocking");
        Assert.Contains(redis, d => d.Id == "StackExchange.Redis");

        // 2. A fresh application, written by hand, that knows the packages only from the feed.
        var app = Path.Combine(_root, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(_root, "Directory.Build.props"), "<Project />\n"); // nothing above the temp folder applies
        File.WriteAllText(Path.Combine(_root, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "NuGet.config"), NuGetConfig(feed));
        File.WriteAllText(Path.Combine(app, "FreshApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="SessionLocking" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using SessionLocking;

            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddLockedSession(options => options.AllowType<Basket>());
            var app = builder.Build();
            app.UseRouting();
            app.UseLockedSession();

            app.MapPost("/write", (HttpContext context, string value) =>
            {
                var session = context.GetSessionState();
                session["value"] = value;
                session["basket"] = new Basket { Items = ["tea", "scones"] };
                return Results.Json(new { written = value, isNew = session.IsNewSession });
            });

            app.MapGet("/read", [SessionState(SessionStateBehavior.ReadOnly)] (HttpContext context) =>
            {
                var session = context.GetSessionState();
                return Results.Json(new
                {
                    value = session["value"] as string,
                    basket = (session["basket"] as Basket)?.Items,
                    isReadOnly = session.IsReadOnly,
                    core = context.Session.GetString("value"),
                });
            });

            app.Run();

            public sealed class Basket
            {
                public List<string> Items { get; set; } = [];
            }
            """);

        Log(await DotnetCli.RunAsync(["build", app, "-c", "Release", "-nologo"], app, environment, TimeSpan.FromSeconds(150)));
        var restored = Path.Combine(packages, "sessionlocking", version);
        Assert.True(Directory.Exists(restored), $"the fresh app did not restore SessionLocking {version} into its own packages folder {packages}");
        Assert.True(Directory.Exists(Path.Combine(packages, "sessionlocking.abstractions", version)), "SessionLocking.Abstractions came with it");

        // An application on the in-memory store carries no Redis client.
        var output = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.Empty(Directory.GetFiles(output, "StackExchange.Redis*.dll"));
        Assert.True(File.Exists(Path.Combine(output, "SessionLocking.dll")), "SessionLocking.dll is in the output");

        // 3. Run it on a free loopback port (Kestrel picks one; the app logs it) and use a session.
        var dll = Path.Combine(app, "bin", "Release", "net10.0", "FreshApp.dll");
        Assert.True(File.Exists(dll), $"no {dll}");
        await using var running = await RunningApp.StartAsync(dll, app, _output);
        using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = running.Address, Timeout = TimeSpan.FromSeconds(30) };

        using (var anonymous = await client.GetAsync("/read"))
        {
            Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
            Assert.False(anonymous.Headers.Contains("Set-Cookie"), "a read-only request of a new visitor sets no cookie");
            var json = await anonymous.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(JsonValueKind.Null, json.GetProperty("value").ValueKind);
        }

        string cookie;
        using (var write = await client.PostAsync("/write?value=hello%20from%20the%20package", content: null))
        {
            Assert.Equal(HttpStatusCode.OK, write.StatusCode);
            var setCookie = Assert.Single(write.Headers.GetValues("Set-Cookie"));
            var match = SessionCookie().Match(setCookie);
            Assert.True(match.Success, $"the write must set the classic session cookie; got: {setCookie}");
            Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
            cookie = match.Groups[1].Value;
            Assert.True((await write.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("isNew").GetBoolean());
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/read"))
        {
            request.Headers.Add("Cookie", $"ASP.NET_SessionId={cookie}");
            using var read = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            var json = await read.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("hello from the package", json.GetProperty("value").GetString());
            Assert.Equal(["tea", "scones"], json.GetProperty("basket").EnumerateArray().Select(i => i.GetString()));
            Assert.True(json.GetProperty("isReadOnly").GetBoolean());
            Assert.Equal("hello from the package", json.GetProperty("core").GetString()); // HttpContext.Session sees the same item
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _output.WriteLine($"could not delete {_root}: {ex.Message}");
        }
    }

    /// <summary>The dependencies a package of the feed declares.</summary>
    private static List<(string Id, string Version)> Dependencies(string feed, string id, string version)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{version}.nupkg"));
        using var nuspecStream = zip.GetEntry($"{id}.nuspec")!.Open();
        var root = XDocument.Load(nuspecStream).Root!;
        return root.Descendants(root.Name.Namespace + "dependency").Select(d => (d.Attribute("id")!.Value, d.Attribute("version")!.Value)).ToList();
    }

    /// <summary>Opens a package of the feed and checks its metadata and files.</summary>
    private void AssertPackage(string feed, string id, string version, string assembly, string? dependsOn)
    {
        var path = Path.Combine(feed, $"{id}.{version}.nupkg");
        Assert.True(File.Exists(path), $"dotnet pack did not produce {path}; the feed has: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
        using var zip = ZipFile.OpenRead(path);
        var files = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        _output.WriteLine($"{Path.GetFileName(path)}: {string.Join(", ", files.Order())}");

        Assert.Contains($"lib/net10.0/{assembly}.dll", files);
        Assert.Contains($"lib/net10.0/{assembly}.xml", files); // XML documentation
        Assert.Contains("README.md", files);

        using var nuspecStream = zip.GetEntry($"{id}.nuspec")!.Open();
        var root = XDocument.Load(nuspecStream).Root!;
        var ns = root.Name.Namespace; // the nuspec schema version NuGet chose
        var metadata = root.Element(ns + "metadata")!;
        string? Value(string name) => metadata.Element(ns + name)?.Value;
        Assert.Equal(id, Value("id"));
        Assert.Equal(version, Value("version"));
        Assert.Equal("README.md", Value("readme"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(Value("description")), $"{id}: no description");
        Assert.Contains("session", Value("tags") ?? "", StringComparison.Ordinal);
        Assert.StartsWith("https://", Value("projectUrl"));
        var repository = metadata.Element(ns + "repository");
        Assert.NotNull(repository);
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.StartsWith("https://", repository.Attribute("url")?.Value);

        var readme = new StreamReader(zip.GetEntry("README.md")!.Open(), Encoding.UTF8).ReadToEnd();
        Assert.StartsWith($"# {id}", readme);

        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (Id: d.Attribute("id")!.Value, Version: d.Attribute("version")!.Value)).ToList();
        if (dependsOn is null)
        {
            Assert.DoesNotContain(dependencies, d => d.Id.StartsWith("SessionLocking", StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains((dependsOn, version), dependencies);
        }

        var symbols = Path.Combine(feed, $"{id}.{version}.snupkg");
        Assert.True(File.Exists(symbols), $"no symbol package {symbols}");
        using var symbolZip = ZipFile.OpenRead(symbols);
        Assert.Contains(symbolZip.Entries, e => e.FullName == $"lib/net10.0/{assembly}.pdb");
    }

    /// <summary>
    /// The local feed for SessionLocking* (and only there: package source mapping, so a package of the same name on
    /// the public registry can never be used instead) plus the normal NuGet source for everything else. The machine's
    /// global packages folder, when there is one, is a read-only fallback that only saves downloads of other packages:
    /// the version is unique to the run, so it cannot hold these.
    /// </summary>
    private static string NuGetConfig(string feed)
    {
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var fallback = Directory.Exists(global) ? $"""
              <fallbackPackageFolders>
                <clear />
                <add key="global" value="{global}" />
              </fallbackPackageFolders>
            """ : "";
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="SessionLocking" />
                  <package pattern="SessionLocking.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            {fallback}
            </configuration>
            """;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SessionLocking.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"SessionLocking.sln not found above {AppContext.BaseDirectory}");
    }

    private void Log(string line)
    {
        _output.WriteLine(line);
        Console.WriteLine(line);
    }

    [GeneratedRegex("^ASP\\.NET_SessionId=([a-z0-5]{24});")]
    private static partial Regex SessionCookie();

    /// <summary>The fresh application, running until disposed.</summary>
    private sealed partial class RunningApp : IAsyncDisposable
    {
        private readonly Process _process;

        private RunningApp(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<RunningApp> StartAsync(string dll, string directory, ITestOutputHelper output)
        {
            var info = DotnetCli.StartInfo(DotnetCli.DotnetPath, [dll, "--urls", "http://127.0.0.1:0"], directory,
                new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Logging__Console__FormatterName"] = "simple" });
            var process = Process.Start(info)!;
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var log = new StringBuilder();
            void OnLine(object? sender, DataReceivedEventArgs e)
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (log)
                {
                    log.AppendLine(e.Data);
                }

                if (ListeningOn().Match(e.Data) is { Success: true } match)
                {
                    listening.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/') + "/"));
                }
            }

            process.OutputDataReceived += OnLine;
            process.ErrorDataReceived += OnLine;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("the app exited before it listened"));
            process.EnableRaisingEvents = true;

            try
            {
                var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
                output.WriteLine($"fresh app (pid {process.Id}) listens on {address}");
                return new RunningApp(process, address);
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                Stop(process);
                string text;
                lock (log)
                {
                    text = log.ToString();
                }

                throw new Xunit.Sdk.XunitException($"the fresh app did not start listening: {ex.Message}\n{text}");
            }
        }

        public ValueTask DisposeAsync()
        {
            Stop(_process);
            return ValueTask.CompletedTask;
        }

        private static void Stop(Process process)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }

            process.Dispose();
        }

        [GeneratedRegex("Now listening on: (http://127\\.0\\.0\\.1:\\d+)")]
        private static partial Regex ListeningOn();
    }
}
