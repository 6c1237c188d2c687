using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>A shard stopped because its run ended without it: cancelled, or failed in another shard. Not a failure
/// of this shard, so it is not retried.</summary>
internal sealed class RunStoppedException(Guid runId, RunState state)
    : OperationCanceledException(state == RunState.Cancelled ? $"run {runId} was cancelled" : $"run {runId} failed in another shard")
{
    public RunState State { get; } = state;
}

/// <summary>A shard's failure that ended its run; Hangfire records the job as failed without retrying it.</summary>
internal sealed class ShardFailedException(string message, Exception inner) : Exception(message, inner);
