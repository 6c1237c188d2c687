namespace Distil.Server.Api;

/// <summary>
/// Body of <c>POST /api/runs</c>. The definition travels as text; <c>definition_file</c> is its full path
/// on the submitting machine, against whose folder relative data paths resolve on every worker (so the
/// data must be at that path there too: a shared mount or the same checkout).
/// </summary>
internal sealed record SubmitRequest(string? Definition, string? DefinitionFile, int? ShardSize);

/// <summary>Body of <c>POST /api/schedules</c>: a submission plus its cron and an optional id (default: the pipeline name).</summary>
internal sealed record ScheduleRequest(string? Definition, string? DefinitionFile, string? Cron, string? Id, int? ShardSize);

public sealed record SubmitResponse(Guid Id, string Url);

public sealed record ScheduleResponse(string Id);

internal sealed record ErrorResponse(string Error);

internal sealed record ScheduleView(string Id, string Cron, DateTime? NextExecution, DateTime? LastExecution, string? LastJobState);
