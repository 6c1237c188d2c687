using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Distil.Server.Dashboard;

/// <summary>Serves the dashboard: one HTML page (embedded in the assembly) that reads /api/events and /api/runs.</summary>
internal static class DashboardPage
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("Distil.Server.Dashboard.index.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/", () => Results.Bytes(Page.Value, "text/html; charset=utf-8"));
}
