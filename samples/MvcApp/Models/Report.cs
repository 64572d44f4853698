namespace MvcApp.Models;

/// <summary>One cart line of the report, priced from the catalogue (null when the product is not in it).</summary>
public sealed record ReportLine(string Product, int Quantity, decimal? UnitPrice, decimal? Amount);

/// <summary>What the read-only report shows: the visitor's cart and checkout, as the session holds them.</summary>
public sealed record SessionReport(
    bool IsReadOnly,
    IReadOnlyList<ReportLine> Lines,
    int ItemCount,
    decimal Total,
    int? CheckoutStep,
    string? LastOrder,
    IReadOnlyList<string> Keys);
