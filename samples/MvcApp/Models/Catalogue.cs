namespace MvcApp.Models;

/// <summary>A product of the catalogue.</summary>
public sealed record Product(string Id, string Name, decimal Price);

/// <summary>The catalogue, fixed for the sample.</summary>
public static class ProductCatalogue
{
    public static IReadOnlyList<Product> All { get; } =
    [
        new("apple", "Apple", 0.40m),
        new("pear", "Pear", 0.55m),
        new("bread", "Sourdough bread", 3.20m),
        new("cheese", "Comté, 200 g", 4.90m),
        new("coffee", "Coffee beans, 250 g", 6.50m),
    ];
}

/// <summary>What the catalogue page shows.</summary>
public sealed record CatalogueViewModel(IReadOnlyList<Product> Products, int CartCount, bool HasSessionCookie, bool IsReadOnly);
