using System.Text;
using System.Text.Json;

namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>One target of issue 4 and whether this run met it (null: not run).</summary>
internal sealed record TargetResult(string Scenario, string Target, string Measured, bool? Met, string? Note = null);

/// <summary>
/// Where a scenario leaves its output: a markdown section (<c>NN-name.md</c>) and its targets
/// (<c>NN-name.targets.json</c>) in the results folder; <c>report</c> joins them into docs/benchmarks.md.
/// </summary>
internal sealed class ResultSink
{
    private readonly string _directory;
    private readonly string _name;
    private readonly StringBuilder _markdown = new();
    private readonly List<TargetResult> _targets = new();

    public ResultSink(string directory, string name)
    {
        _directory = directory;
        _name = name;
        Directory.CreateDirectory(directory);
    }

    public ResultSink Line(string text = "")
    {
        _markdown.AppendLine(text);
        Console.WriteLine(text);
        return this;
    }

    public ResultSink Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        Line("| " + string.Join(" | ", header) + " |");
        Line("|" + string.Concat(header.Select((h, i) => i == 0 ? "---|" : "---:|")));
        foreach (var row in rows)
        {
            Line("| " + string.Join(" | ", row) + " |");
        }

        return Line();
    }

    public void Target(TargetResult target) => _targets.Add(target);

    public void Save()
    {
        File.WriteAllText(Path.Combine(_directory, _name + ".md"), _markdown.ToString());
        File.WriteAllText(Path.Combine(_directory, _name + ".targets.json"), JsonSerializer.Serialize(_targets));
    }

    public static IReadOnlyList<TargetResult> LoadTargets(string file) =>
        JsonSerializer.Deserialize<List<TargetResult>>(File.ReadAllText(file)) ?? new List<TargetResult>();
}
