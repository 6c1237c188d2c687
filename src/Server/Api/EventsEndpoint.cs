using System.Text.Json;
using Distil.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Distil.Server.Api;

/// <summary>
/// <c>/api/events</c>: server-sent events. Every second the run list is read from the store (which any
/// process may have changed) and sent as a <c>runs</c> event when it differs from the last one sent.
/// </summary>
internal static class EventsEndpoint
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public static void Map(IEndpointRouteBuilder app) => app.MapGet("/api/events", StreamAsync);

    private static async Task StreamAsync(HttpContext context, IRunStore store, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(EventsEndpoint));
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        string? last = null;
        var quiet = 0;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                string message;
                try
                {
                    var runs = (await store.ListRunsAsync(50, cancellationToken)).Select(r => RunView.From(r)).ToList();
                    var json = JsonSerializer.Serialize(runs, ApiJson.Options);
                    if (json == last && ++quiet < 15)
                    {
                        continue;
                    }

                    message = json == last ? ": keep-alive\n\n" : $"event: runs\ndata: {json}\n\n";
                    last = json;
                    quiet = 0;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Run list unavailable for events: {Message}", e.Message);
                    continue;
                }

                await context.Response.WriteAsync(message, cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            // The browser went away.
        }
    }
}
