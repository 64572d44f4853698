using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SessionLocking.Benchmarks.Infrastructure;

namespace SessionLocking.Benchmarks.Report;

/// <summary>Joins the scenario sections of a results folder into docs/benchmarks.md, with the machine and a summary of the targets.</summary>
internal static class MarkdownReport
{
    private static readonly (string File, string Title)[] Sections =
    [
        ("1-hot-session", "1. Hot session"),
        ("2-many-sessions", "2. Many sessions"),
        ("3-round-trips", "3. Round trips and bytes"),
        ("4-waiting-cost", "4. Waiting cost"),
        ("5-micro", "5. Micro-benchmarks"),
        ("6-cluster-pubsub", "6. Cluster pub/sub"),
        ("7-durable-writes", "7. Durable writes"),
    ];

    public static void Write(Args args)
    {
        var results = args.Get("results", "benchmarks/results");
        var output = args.Get("out", "docs/benchmarks.md");
        if (args.GetOrNull("only") is { } only && File.Exists(output))
        {
            Splice(args, results, output, only);
            return;
        }

        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine("Written by the benchmark command; every figure below is from its latest run. Run it from the repository root:");
        md.AppendLine();
        md.AppendLine("```sh");
        md.AppendLine(args.Get("command", "./scripts/benchmark.sh"));
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine("It builds `benchmarks/SessionLocking.Benchmarks` in Release, " +
                      "runs every scenario (the load scenarios against real Kestrel on loopback: scenario 2's servers in a child process of their own, the other scenarios' in the benchmark's process; each Redis scenario on a `redis-server` of its own on a free loopback port with no persistence; " +
                      "the micro-benchmarks with BenchmarkDotNet) and rewrites this file. " +
                      "Every figure is given as a ratio to a baseline measured in the same run, and load figures with p50/p99 latencies. " +
                      "The program's sources are in [`benchmarks/SessionLocking.Benchmarks`](../benchmarks/SessionLocking.Benchmarks); each scenario can also be run alone " +
                      "(`dotnet benchmarks/SessionLocking.Benchmarks/bin/Release/net10.0/SessionLocking.Benchmarks.dll hot|many|roundtrips|waiting|micro --redis start`, or `--redis 127.0.0.1:PORT` for a running server; `pubsub` starts its own clusters, `durable` its own primary and replica), " +
                      "and `./scripts/benchmark.sh --only NAME` runs one scenario and replaces only its section and its targets here.");
        md.AppendLine();

        md.AppendLine("## Machine");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        foreach (var (name, value) in Machine(args))
        {
            md.AppendLine($"| {name} | {value} |");
        }

        md.AppendLine();
        md.AppendLine("Absolute numbers depend on the machine and on what else runs on it; compare the ratios, which are measured against baselines in the same run " +
                      "(the load scenarios alternate their set-ups in rounds so that background noise hits all of them alike).");
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| scenario | target | measured | result |");
        md.AppendLine("|---|---|---|---|");
        foreach (var (file, title) in Sections)
        {
            var targets = Path.Combine(results, file + ".targets.json");
            if (!File.Exists(targets))
            {
                md.AppendLine($"| {title} | – | scenario did not complete (see the console output of the run) | **failed** |");
                continue;
            }

            foreach (var t in ResultSink.LoadTargets(targets))
            {
                md.AppendLine($"| {t.Scenario} | {t.Target} | {t.Measured} | {(t.Met is null ? t.Note ?? "not run" : Fmt.Met(t.Met))} |");
            }
        }

        md.AppendLine();
        foreach (var (file, title) in Sections)
        {
            var section = Path.Combine(results, file + ".md");
            if (File.Exists(section))
            {
                md.Append(File.ReadAllText(section));
            }
            else
            {
                md.AppendLine($"## {title}");
                md.AppendLine();
                md.AppendLine("This scenario did not complete in the latest run; see the console output of the command.");
                md.AppendLine();
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, md.ToString().TrimEnd() + Environment.NewLine);
        Console.WriteLine($"Wrote {output}");
    }

    /// <summary>
    /// Replaces one scenario's section and its rows of the targets table in an existing report, leaving the rest (and its
    /// machine table, which describes the last full run) as it was; the section says when and how it was run alone.
    /// </summary>
    private static void Splice(Args args, string results, string output, string only)
    {
        var (file, title) = Sections.FirstOrDefault(s => s.File == only || s.File.EndsWith("-" + only, StringComparison.Ordinal) || s.File[(s.File.IndexOf('-') + 1)..].Replace("-", string.Empty, StringComparison.Ordinal).StartsWith(only, StringComparison.Ordinal));
        if (file is null)
        {
            throw new ArgumentException($"No scenario section named {only}; known: {string.Join(", ", Sections.Select(s => s.File))}.");
        }

        var sectionFile = Path.Combine(results, file + ".md");
        var section = File.Exists(sectionFile)
            ? File.ReadAllText(sectionFile).TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList()
            : [$"## {title}", string.Empty, "This scenario did not complete in the latest run; see the console output of the command."];
        section.Insert(1, string.Empty);
        section.Insert(2, $"Run alone with `{args.Get("command", "./scripts/benchmark.sh --only " + only)}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, commit {args.Get("commit", "?")} " +
                          $"(load average {args.Get("load-start", "?")} at the start, {args.Get("load-end", "?")} at the end; the machine is the one above).");

        var lines = File.ReadAllLines(output).ToList();
        // The section's heading can say more than the targets table's short title ("3. Round trips and bytes" heads
        // "## 3. Redis round trips and bytes per request kind"): find it by the heading the section file brings, else by
        // the title, else by its number, so a re-run replaces the section instead of adding a second one.
        var number = title[..(title.IndexOf(' ', StringComparison.Ordinal) + 1)];
        var start = lines.FindIndex(l => l == section[0]);
        if (start < 0)
        {
            start = lines.FindIndex(l => l.StartsWith($"## {title}", StringComparison.Ordinal));
        }

        if (start < 0 && number.EndsWith(". ", StringComparison.Ordinal))
        {
            start = lines.FindIndex(l => l.StartsWith($"## {number}", StringComparison.Ordinal));
        }

        if (start >= 0)
        {
            var end = lines.FindIndex(start + 1, l => l.StartsWith("## ", StringComparison.Ordinal));
            lines.RemoveRange(start, (end < 0 ? lines.Count : end) - start);
        }
        else
        {
            start = lines.Count;
            if (lines.Count > 0 && lines[^1].Length > 0)
            {
                lines.Add(string.Empty);
                start++;
            }
        }

        section.Add(string.Empty);
        lines.InsertRange(start, section);

        // Targets: this scenario's rows out, its new rows in at the end of the table.
        var targetPrefix = $"| {title}";
        lines.RemoveAll(l => l.StartsWith(targetPrefix + " |", StringComparison.Ordinal) || l.StartsWith(targetPrefix + ":", StringComparison.Ordinal));
        var targets = lines.FindIndex(l => l == "## Targets");
        if (targets >= 0)
        {
            var last = lines.FindIndex(targets, l => l.StartsWith("| ", StringComparison.Ordinal));
            while (last + 1 < lines.Count && lines[last + 1].StartsWith('|'))
            {
                last++;
            }

            var targetFile = Path.Combine(results, file + ".targets.json");
            var rows = File.Exists(targetFile)
                ? ResultSink.LoadTargets(targetFile).Select(t => $"| {t.Scenario} | {t.Target} | {t.Measured} | {(t.Met is null ? t.Note ?? "not run" : Fmt.Met(t.Met))} |")
                : [$"| {title} | – | scenario did not complete (see the console output of the run) | **failed** |"];
            lines.InsertRange(last + 1, rows);
        }

        File.WriteAllText(output, string.Join(Environment.NewLine, lines).TrimEnd() + Environment.NewLine);
        Console.WriteLine($"Updated {title} in {output}");
    }

    private static IEnumerable<(string, string)> Machine(Args args)
    {
        yield return ("CPU", CpuModel());
        yield return ("cores", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) + " (as seen by .NET)");
        yield return ("memory", Memory());
        yield return ("OS", Os());
        yield return (".NET", $"{RuntimeInformation.FrameworkDescription} (SDK {args.Get("sdk", "?")}), {RuntimeInformation.ProcessArchitecture}, Server GC, Release build");
        yield return ("Redis", args.Get("redis-version", "?"));
        if (args.GetOrNull("garnet-version") is { } garnet)
        {
            yield return ("Garnet", garnet);
        }
        yield return ("load average", $"{args.Get("load-start", "?")} at the start, {args.Get("load-end", "?")} at the end (1, 5, 15 min)");
        yield return ("run", $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, commit {args.Get("commit", "?")}, {args.Get("elapsed", "?")} in all");
        if (args.GetOrNull("note") is { } note)
        {
            yield return ("note", note);
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "?" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Memory()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return (kb / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException)
        {
            return "?";
        }
    }

    private static string Os()
    {
        var name = RuntimeInformation.OSDescription;
        try
        {
            var pretty = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            if (pretty is not null)
            {
                name = pretty["PRETTY_NAME=".Length..].Trim('"') + ", kernel " + File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            }
        }
        catch (IOException)
        {
        }

        return name;
    }
}
