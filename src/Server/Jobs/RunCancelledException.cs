namespace Distil.Server.Jobs;

/// <summary>A shard stopped because its run was cancelled (not a failure: no retry).</summary>
public sealed class RunCancelledException(Guid runId) : OperationCanceledException($"run {runId} was cancelled");
