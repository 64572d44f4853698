using System.Diagnostics;
using System.Globalization;

namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>Percentiles over recorded durations (Stopwatch ticks), reported in milliseconds.</summary>
internal sealed class Latencies
{
    private readonly List<long> _ticks = new();

    public int Count => _ticks.Count;

    public void Add(long ticks) => _ticks.Add(ticks);

    public void AddRange(IEnumerable<long> ticks) => _ticks.AddRange(ticks);

    public double Percentile(double p)
    {
        if (_ticks.Count == 0)
        {
            return double.NaN;
        }

        _ticks.Sort();
        // Nearest rank: the smallest value with at least p of the samples at or below it.
        var rank = (int)Math.Ceiling(p / 100.0 * _ticks.Count);
        var index = Math.Clamp(rank - 1, 0, _ticks.Count - 1);
        return _ticks[index] * 1000.0 / Stopwatch.Frequency;
    }

    public double P50 => Percentile(50);

    public double P99 => Percentile(99);

    public double Mean => _ticks.Count == 0 ? double.NaN : _ticks.Average() * 1000.0 / Stopwatch.Frequency;
}

internal static class Fmt
{
    public static string Ms(double ms) => double.IsNaN(ms) ? "–" : ms switch
    {
        < 0.1 => ms.ToString("0.000", CultureInfo.InvariantCulture),
        < 10 => ms.ToString("0.00", CultureInfo.InvariantCulture),
        < 1000 => ms.ToString("0.0", CultureInfo.InvariantCulture),
        _ => ms.ToString("0", CultureInfo.InvariantCulture),
    } + " ms";

    public static string Num(double value, string format = "N0") =>
        double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    public static string Ratio(double value) => double.IsNaN(value) || double.IsInfinity(value)
        ? "–"
        : value switch
        {
            >= 100 => value.ToString("N0", CultureInfo.InvariantCulture) + "x",
            >= 10 => value.ToString("0.0", CultureInfo.InvariantCulture) + "x",
            >= 0.01 or 0 => value.ToString("0.00", CultureInfo.InvariantCulture) + "x",
            _ => value.ToString("0.0#####", CultureInfo.InvariantCulture) + "x",
        };

    public static string Bytes(double bytes) => double.IsNaN(bytes) ? "–" : bytes switch
    {
        >= 10 * 1024 * 1024 => (bytes / (1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 10 * 1024 => (bytes / 1024).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString("N0", CultureInfo.InvariantCulture) + " B",
    };

    public static string Met(bool? met) => met switch
    {
        true => "**met**",
        false => "**missed**",
        null => "not run",
    };
}
