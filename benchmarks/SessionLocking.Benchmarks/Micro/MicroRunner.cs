using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using SessionLocking.Benchmarks.Infrastructure;

namespace SessionLocking.Benchmarks.Micro;

/// <summary>Scenario 5: BenchmarkDotNet micro-benchmarks of the hot paths, with allocations and baselines.</summary>
internal static class MicroRunner
{
    private static readonly Type[] Benchmarks =
    [
        typeof(SessionIdCreation),
        typeof(SessionIdValidation),
        typeof(ChangeTracking),
        typeof(ChangeTrackingLargeSession),
        typeof(Serialization),
        typeof(Deserialization),
    ];

    public static void Run(ResultSink sink, string artifacts, string? filter)
    {
        // In-process (no generated project to build and restore) and short: a few iterations of ~100 ms each.
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(15)
            .WithIterationTime(TimeInterval.FromMilliseconds(100))
            .WithId("short");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median)
            .AddLogger(ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub)
            .WithArtifactsPath(artifacts)
            .WithOption(ConfigOptions.DisableLogFile, true)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend));

        sink.Line("## 5. Micro-benchmarks of the hot paths");
        sink.Line();
        sink.Line("BenchmarkDotNet 0.14.0, in-process, `[MemoryDiagnoser]`, a short job (1 launch, 3 warm-up and 15 measured iterations of about 100 ms). " +
                  "Each table has its own baseline (`Baseline = true`, ratio 1.00): the simplest comparable operation. " +
                  "The typical session: a user name, an int, a DateTimeOffset, a Guid, a cart object with five lines and 64 raw bytes (about 700 bytes). " +
                  "BenchmarkDotNet cannot alternate benchmarks the way the load scenarios do, so on a busy machine a table's ratios move from run to run by more than the Error column suggests; the Median column is the steadier one.");
        sink.Line();

        foreach (var type in Benchmarks.Where(t => filter is null || t.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            var summary = BenchmarkRunner.Run(type, config);
            sink.Line($"### {type.Name}");
            sink.Line();
            var table = summary.Table;
            var columns = table.Columns.Where(c => c.NeedToShow && c.OriginalColumn.Id is not null).ToArray();
            var keep = new[] { "Method", "Mean", "Error", "Median", "Ratio", "Allocated", "Alloc Ratio", "Gen0" };
            var shown = columns.Where(c => keep.Contains(c.Header)).ToArray();
            sink.Line("| " + string.Join(" | ", shown.Select(c => c.Header)) + " |");
            sink.Line("|" + string.Concat(shown.Select((c, i) => i == 0 ? "---|" : "---:|")));
            foreach (var row in table.FullContent)
            {
                sink.Line("| " + string.Join(" | ", shown.Select(c => row[c.Index].Replace("|", "\\|"))) + " |");
            }

            sink.Line();
            if (summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success))
            {
                sink.Line("(some benchmarks of this table failed; see the console output)");
                sink.Line();
            }
        }
    }
}
