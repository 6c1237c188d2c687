namespace Distil.Hub;

/// <summary>The Hub's <c>size_categories</c> buckets; a value outside this list is not recognised by the Hub.</summary>
public static class HubSizeCategory
{
    public static string For(long rows) => rows switch
    {
        < 1_000 => "n<1K",
        < 10_000 => "1K<n<10K",
        < 100_000 => "10K<n<100K",
        < 1_000_000 => "100K<n<1M",
        < 10_000_000 => "1M<n<10M",
        < 100_000_000 => "10M<n<100M",
        < 1_000_000_000 => "100M<n<1B",
        < 10_000_000_000 => "1B<n<10B",
        < 100_000_000_000 => "10B<n<100B",
        < 1_000_000_000_000 => "100B<n<1T",
        _ => "n>1T",
    };
}
