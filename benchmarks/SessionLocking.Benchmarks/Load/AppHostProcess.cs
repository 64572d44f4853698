using System.Diagnostics;
using System.Globalization;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// The servers of a load scenario in a process of their own, so that the load driver's CPU stays out of the server's
/// figures: the child (<c>app-host</c>) starts one <see cref="BenchApp"/> per set-up, prints their addresses, and
/// answers each <c>cpu</c> line on its standard input with its own CPU time so far (ticks); <c>exit</c> stops it.
/// </summary>
internal sealed class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private AppHostProcess(Process process, IReadOnlyList<Uri> addresses)
    {
        _process = process;
        Addresses = addresses;
    }

    /// <summary>The address of each set-up's server, in the order given.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>Starts the child with the scenario's set-ups (<paramref name="scenario"/> names the list, see <see cref="ServeAsync"/>).</summary>
    public static async Task<AppHostProcess> StartAsync(string selfPath, string scenario, string? redis, string? garnet)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { selfPath, "app-host", "--scenario", scenario, "--redis", redis ?? "-", "--garnet", garnet ?? "-" },
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the app host");
        var ready = await process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the app host ended before it was ready");
        if (!ready.StartsWith("READY", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the app host said: " + ready);
        }

        var addresses = ready.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => new Uri(a)).ToArray();
        return new AppHostProcess(process, addresses);
    }

    /// <summary>The child's CPU time so far (user and system, all threads).</summary>
    public async Task<TimeSpan> CpuAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync("cpu");
            await _process.StandardInput.FlushAsync();
            var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the app host ended");
            return TimeSpan.FromTicks(long.Parse(line, CultureInfo.InvariantCulture));
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.StandardInput.WriteLineAsync("exit");
            await _process.StandardInput.FlushAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        _gate.Dispose();
    }

    /// <summary>The child's side: serves the set-ups of <c>--scenario</c> until told to exit.</summary>
    public static async Task<int> ServeAsync(Args options)
    {
        var redis = options.GetOrNull("redis") is { } r && r != "-" ? r : null;
        var garnet = options.GetOrNull("garnet") is { } g && g != "-" ? g : null;
        var variants = options.Get("scenario", "many") switch
        {
            "many" => ManySessionsScenario.Variants(redis, garnet),
            var other => throw new ArgumentException("unknown scenario " + other),
        };
        var apps = new List<BenchApp>();
        try
        {
            foreach (var variant in variants)
            {
                apps.Add(await BenchApp.StartAsync(variant));
            }

            Console.Out.WriteLine("READY " + string.Join(' ', apps.Select(a => a.Address)));
            Console.Out.Flush();
            while (await Console.In.ReadLineAsync() is { } line && line != "exit")
            {
                if (line == "cpu")
                {
                    Console.Out.WriteLine(LoadRunner.ProcessCpuTime().Ticks.ToString(CultureInfo.InvariantCulture));
                    Console.Out.Flush();
                }
            }
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.DisposeAsync();
            }
        }

        return 0;
    }
}
