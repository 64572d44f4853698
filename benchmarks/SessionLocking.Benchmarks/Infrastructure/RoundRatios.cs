namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>A ratio measured once per round: its median and range, shown as "1.23x (1.10x–1.40x)".</summary>
internal sealed record RoundRatios(double Median, double Min, double Max, int Rounds)
{
    public static RoundRatios Of(IEnumerable<double> perRound)
    {
        var values = perRound.Where(v => !double.IsNaN(v) && !double.IsInfinity(v)).Order().ToArray();
        if (values.Length == 0)
        {
            return new RoundRatios(double.NaN, double.NaN, double.NaN, 0);
        }

        var mid = values.Length / 2;
        var median = values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
        return new RoundRatios(median, values[0], values[^1], values.Length);
    }

    public override string ToString() => Rounds == 0 ? "–" : $"{Fmt.Ratio(Median)} ({Fmt.Ratio(Min)}–{Fmt.Ratio(Max)})";
}
