using System.Diagnostics;
using System.Text;

namespace SessionLocking.PackageTests;

/// <summary>Runs the dotnet CLI as a child process with a clean environment, and the apps it builds.</summary>
public static class DotnetCli
{
    /// <summary>The dotnet host running this test (so the same SDK packs and builds), else dotnet from PATH.</summary>
    public static string DotnetPath { get; } =
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    /// <summary>
    /// A start info with the test host's MSBuild and VSTest variables removed (they would point the child build at the
    /// parent's MSBuild), no telemetry or logo, no MSBuild nodes left running, and the given extra variables.
    /// </summary>
    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var key in info.Environment.Keys.ToList())
        {
            if (key.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || key.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(key);
            }
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }

    /// <summary>Runs <c>dotnet args</c> to completion; fails the test with the output when it fails or takes too long.</summary>
    public static async Task<string> RunAsync(IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var args = arguments.ToList();
        var command = $"dotnet {string.Join(' ', args)}";
        using var process = new Process { StartInfo = StartInfo(DotnetPath, args, workingDirectory, environment) };
        var output = new StringBuilder();
        var sync = new Lock();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (sync) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (sync) { output.AppendLine(e.Data); } } };
        var started = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"'{command}' did not finish within {timeout.TotalSeconds:0} s:\n{Text()}");
        }

        process.WaitForExit(); // flushes the redirected output
        Assert.True(process.ExitCode == 0, $"'{command}' failed with exit code {process.ExitCode} after {started.Elapsed.TotalSeconds:0.0} s:\n{Text()}");
        return $"'{command}' took {started.Elapsed.TotalSeconds:0.0} s";

        string Text()
        {
            lock (sync)
            {
                return output.ToString();
            }
        }
    }
}
