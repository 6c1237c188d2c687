using System.Globalization;
using Distil.Pipeline;
using Distil.Server.Jobs;
using Distil.Server.Storage;
using Distil.Steps;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Distil.Server.Api;

/// <summary>
/// Reading and reviewing a finished run's pairs: a row browser over the merged output's Parquet (paged, filtered,
/// read a row group at a time), the run's append-only review log, and publishing the output again with the log applied.
/// </summary>
internal static class ReviewApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/runs/{id:guid}");
        api.MapGet("/rows", async (Guid id, HttpRequest request, IRunStore store, CancellationToken ct) =>
        {
            if (await OutputAsync(id, store, ct) is not { } output)
            {
                return NotReady(id);
            }

            var files = await FilesAsync(output, ct);
            var query = request.Query;
            var file = query["file"].ToString() is { Length: > 0 } named ? named : files.Where(f => f.Pairs).Select(f => f.Name).FirstOrDefault();
            if (file is null || !files.Any(f => f.Name == file && f.Pairs))
            {
                return RunsApi.Json(new ErrorResponse(file is null
                    ? $"run {id}'s output has no Parquet file with chosen and rejected columns"
                    : $"'{file}' is not a Parquet file of pairs in run {id}'s output (files: {string.Join(", ", files.Select(f => f.Name))})"), StatusCodes.Status404NotFound);
            }

            PairFilter filter;
            long after;
            int limit;
            try
            {
                filter = new PairFilter(Number(query, "min_gap"), Number(query, "max_gap"), Flag(query, "ties"), Flag(query, "errors"),
                    query["model"].ToString() is { Length: > 0 } model ? model : null);
                after = (long)(Number(query, "after") ?? 0);
                limit = (int)(Number(query, "limit") ?? 20);
            }
            catch (FormatException e)
            {
                return RunsApi.Json(new ErrorResponse(e.Message), StatusCodes.Status400BadRequest);
            }

            var page = await PairBrowser.PageAsync(Path.Combine(output, file), filter, Math.Max(0, after), limit, ct);
            var decisions = ReviewLog.Effective(await store.GetReviewsAsync(id, ct));
            return RunsApi.Json(new RowsResponse(file, files.Where(f => f.Pairs).Select(f => f.Name).ToList(), page.TotalRows, page.Next,
                page.Rows.Select(r => new ReviewedRow(r, decisions.TryGetValue((file, r.Row), out var d) && d.Digest == r.Digest ? d : null)).ToList()));
        });

        api.MapGet("/reviews", async (Guid id, IRunStore store, CancellationToken ct) =>
            await store.GetRunStateAsync(id, ct) is null ? RunsApi.Json(new ErrorResponse($"no run {id}"), StatusCodes.Status404NotFound) : RunsApi.Json(await store.GetReviewsAsync(id, ct)));

        api.MapPost("/reviews", async (Guid id, HttpRequest request, IRunStore store, CancellationToken ct) =>
        {
            var body = await request.ReadFromJsonAsync<ReviewRequest>(ApiJson.Options, ct);
            if (body is null || string.IsNullOrEmpty(body.File) || body.Row is not { } row || !ReviewActions.All.Contains(body.Action ?? ""))
            {
                return RunsApi.Json(new ErrorResponse($"the body needs \"file\", \"row\" and \"action\" ({string.Join(", ", ReviewActions.All)}); \"reviewer\" is optional"), StatusCodes.Status400BadRequest);
            }

            if (await OutputAsync(id, store, ct) is not { } output)
            {
                return NotReady(id);
            }

            if (!(await FilesAsync(output, ct)).Any(f => f.Name == body.File && f.Pairs))
            {
                return RunsApi.Json(new ErrorResponse($"'{body.File}' is not a Parquet file of pairs in run {id}'s output"), StatusCodes.Status404NotFound);
            }

            // The digest is taken from the file here, not from the client: it records the pair the server showed.
            if (await PairBrowser.RowAsync(Path.Combine(output, body.File), row, ct) is not { } pair)
            {
                return RunsApi.Json(new ErrorResponse($"{body.File} has no row {row}"), StatusCodes.Status404NotFound);
            }

            var reviewer = string.IsNullOrWhiteSpace(body.Reviewer) ? "anonymous" : body.Reviewer.Trim()[..Math.Min(body.Reviewer.Trim().Length, 100)];
            var entry = new ReviewEntry(body.File, row, body.Action!, reviewer, DateTimeOffset.UtcNow, pair.Digest);
            await store.AppendReviewAsync(id, entry, ct);
            return RunsApi.Json(entry, StatusCodes.Status201Created);
        });

        api.MapPost("/publish", async (Guid id, IServiceProvider services, IRunStore store, CancellationToken ct) =>
        {
            if (await OutputAsync(id, store, ct) is null)
            {
                return NotReady(id);
            }

            try
            {
                var publications = await services.GetRequiredService<RunJobs>().RepublishAsync(id, ct);
                return publications.Count == 0
                    ? RunsApi.Json(new ErrorResponse($"run {id}'s definition has no push_to_hub step: nothing says where to publish"), StatusCodes.Status409Conflict)
                    : RunsApi.Json(new PublishResponse(publications, ReviewLog.Effective(await store.GetReviewsAsync(id, ct)).Count));
            }
            catch (Exception e) when (e is InvalidDataException or Distil.Hub.HubPublishException or PipelineDefinitionException or InvalidOperationException)
            {
                return RunsApi.Json(new ErrorResponse($"publishing run {id}: {e.Message}"), StatusCodes.Status409Conflict);
            }
        });
    }

    private static IResult NotReady(Guid id) =>
        RunsApi.Json(new ErrorResponse($"run {id} does not exist or has not succeeded: only a merged output can be browsed and reviewed"), StatusCodes.Status404NotFound);

    private static async Task<string?> OutputAsync(Guid id, IRunStore store, CancellationToken ct) =>
        await store.GetRunAsync(id, ct) is { Run: { State: RunState.Succeeded, Output: { } output } } && Directory.Exists(output) ? output : null;

    /// <summary>The Parquet files the sinks wrote at the top of the output folder, and which of them hold pairs.</summary>
    private static async Task<List<(string Name, bool Pairs)>> FilesAsync(string output, CancellationToken ct)
    {
        var files = new List<(string, bool)>();
        foreach (var file in Directory.EnumerateFiles(output, "*.parquet").Order(StringComparer.Ordinal))
        {
            files.Add((Path.GetFileName(file), await PairBrowser.HoldsPairsAsync(file, ct)));
        }

        return files;
    }

    private static double? Number(IQueryCollection query, string name) =>
        query[name].ToString() is not { Length: > 0 } text
            ? null
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
                ? value
                : throw new FormatException($"query parameter '{name}': '{text}' is not a number");

    private static bool? Flag(IQueryCollection query, string name) => query[name].ToString() switch
    {
        "" or "any" => null,
        "only" or "true" => true,
        "none" or "false" => false,
        var text => throw new FormatException($"query parameter '{name}': '{text}' is not one of only, none, any"),
    };
}

internal sealed record ReviewRequest(string? File, long? Row, string? Action, string? Reviewer);

/// <summary>A pair with the review decision that holds for it now (null: none).</summary>
internal sealed record ReviewedRow(PairView Pair, ReviewEntry? Review);

internal sealed record RowsResponse(string File, IReadOnlyList<string> Files, long TotalRows, long? Next, IReadOnlyList<ReviewedRow> Rows);

internal sealed record PublishResponse(IReadOnlyList<Publication> Publications, int ReviewedRows);
