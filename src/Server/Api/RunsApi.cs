using Distil.Pipeline;
using Distil.Server.Jobs;
using Distil.Server.Storage;
using Hangfire;
using Hangfire.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Distil.Server.Api;

/// <summary>The JSON API: list, inspect, submit and cancel runs; register, trigger and remove schedules.</summary>
internal static class RunsApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/runs", async (IRunStore store, CancellationToken ct, int? limit) =>
            Json((await store.ListRunsAsync(Math.Clamp(limit ?? 100, 1, 1000), ct)).Select(r => RunView.From(r)).ToList()));

        api.MapGet("/runs/{id:guid}", async (Guid id, IRunStore store, CancellationToken ct) =>
            await store.GetRunAsync(id, ct) is { } run ? Json(RunDetailView.From(run)) : NotFound($"no run {id}"));

        api.MapPost("/runs", async (HttpRequest request, RunSubmission submission, CancellationToken ct) =>
        {
            var body = await request.ReadFromJsonAsync<SubmitRequest>(ApiJson.Options, ct);
            if (string.IsNullOrWhiteSpace(body?.Definition))
            {
                return BadRequest("the body needs \"definition\": the pipeline JSON text");
            }

            return await Guarded(async () =>
            {
                var id = await submission.SubmitAsync(body.Definition, body.DefinitionFile, body.ShardSize, "api", ct);
                return Json(new SubmitResponse(id, $"/api/runs/{id}"), StatusCodes.Status202Accepted);
            });
        });

        api.MapDelete("/runs/{id:guid}", async (Guid id, IRunStore store, CancellationToken ct) =>
        {
            if (await store.GetRunStateAsync(id, ct) is null)
            {
                return NotFound($"no run {id}");
            }

            return await store.CancelRunAsync(id, ct)
                ? Json(new { id, state = nameof(RunState.Cancelled) })
                : Json(new ErrorResponse($"run {id} is already over"), StatusCodes.Status409Conflict);
        });

        api.MapGet("/schedules", (JobStorage storage) =>
        {
            using var connection = storage.GetConnection();
            return Json(connection.GetRecurringJobs()
                .Select(j => new ScheduleView(j.Id, j.Cron, j.NextExecution, j.LastExecution, j.LastJobState)).ToList());
        });

        api.MapPost("/schedules", async (HttpRequest request, ScheduleRegistry schedules, CancellationToken ct) =>
        {
            var body = await request.ReadFromJsonAsync<ScheduleRequest>(ApiJson.Options, ct);
            if (string.IsNullOrWhiteSpace(body?.Definition) || string.IsNullOrWhiteSpace(body.Cron))
            {
                return BadRequest("the body needs \"definition\" (the pipeline JSON text) and \"cron\"");
            }

            return await Guarded(async () =>
                Json(new ScheduleResponse(await schedules.AddOrUpdateAsync(body.Definition, body.DefinitionFile, body.Cron, body.Id, body.ShardSize, ct))));
        });

        api.MapPost("/schedules/{id}/trigger", (string id, ScheduleRegistry schedules) =>
            schedules.Trigger(id) ? Json(new ScheduleResponse(id), StatusCodes.Status202Accepted) : NotFound($"no schedule '{id}'"));

        api.MapDelete("/schedules/{id}", async (string id, ScheduleRegistry schedules, CancellationToken ct) =>
            await schedules.RemoveAsync(id, ct) ? Json(new ScheduleResponse(id)) : NotFound($"no schedule '{id}'"));
    }

    internal static IResult Json(object value, int status = StatusCodes.Status200OK) =>
        Results.Json(value, ApiJson.Options, statusCode: status);

    private static IResult NotFound(string message) => Json(new ErrorResponse(message), StatusCodes.Status404NotFound);

    private static IResult BadRequest(string message) => Json(new ErrorResponse(message), StatusCodes.Status400BadRequest);

    /// <summary>Errors the submitter can fix come back as 400 with the located message.</summary>
    private static async Task<IResult> Guarded(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is PipelineDefinitionException or ServiceConfigurationException)
        {
            return BadRequest(e.Message);
        }
    }
}
