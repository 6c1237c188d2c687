using System.Threading.Tasks.Dataflow;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// Joins branches by row id. Every branch delivers its rows in ascending id order, so once branch b has
/// delivered id n, any earlier id it has not delivered was removed in that branch (a filter, a dedup): such a
/// row can never be complete and is dropped and counted as <c>missing_in_branch</c>. Complete rows come out in
/// ascending order whatever the batch sizes or speeds of the branches.
/// </summary>
internal sealed class FanInNode : LoopNode
{
    public const string MissingInBranch = "missing_in_branch";

    private readonly BufferBlock<Inbound> _inbox;
    private readonly IFanInStep _step;
    private long _missing;

    public FanInNode(StepDefinition definition, RunContext run, CancellationToken cancellationToken)
        : base(definition, run)
    {
        _step = (IFanInStep)definition.Step;
        _inbox = new BufferBlock<Inbound>(new DataflowBlockOptions
        {
            BoundedCapacity = run.Options.CapacityFor(definition) * definition.After.Count,
            CancellationToken = cancellationToken,
        });
    }

    public override ITargetBlock<Inbound> Input => _inbox;

    /// <summary>
    /// Every branch delivers each row, so rows in would count a source row once per branch; progress counts
    /// source rows settled here instead: joined, or dropped because a branch removed them.
    /// </summary>
    protected override long RowsDone => RowsOut + Interlocked.Read(ref _missing);

    protected override async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        var branches = Definition.After.Count;
        var pending = new SortedDictionary<long, Row?[]>();
        var delivered = new long[branches];
        Array.Fill(delivered, -1L);

        while (await _inbox.OutputAvailableAsync(cancellationToken))
        {
            while (_inbox.TryReceive(out var batch))
            {
                CountIn(batch.Rows.Length);
                var complete = new List<Row>();
                foreach (var row in batch.Rows)
                {
                    delivered[batch.Branch] = row.Id;
                    if (!pending.TryGetValue(row.Id, out var parts))
                    {
                        parts = new Row?[branches];
                        pending[row.Id] = parts;
                    }

                    parts[batch.Branch] = row;
                    if (Array.TrueForAll(parts, p => p is not null))
                    {
                        pending.Remove(row.Id);
                        complete.Add(Combine(parts!));
                    }
                }

                DropUnreachable(pending, delivered);
                await EmitAsync(complete, cancellationToken);
            }
        }

        await _inbox.Completion;
        if (pending.Count > 0)
        {
            CountMissing(pending.Count);
        }
    }

    private void DropUnreachable(SortedDictionary<long, Row?[]> pending, long[] delivered)
    {
        var unreachable = new List<long>();
        foreach (var (id, parts) in pending)
        {
            var waitingOnBranchThatPassed = false;
            var waitingOnBranchBehind = false;
            for (var b = 0; b < parts.Length; b++)
            {
                if (parts[b] is null)
                {
                    if (delivered[b] > id)
                    {
                        waitingOnBranchThatPassed = true;
                    }
                    else
                    {
                        waitingOnBranchBehind = true;
                    }
                }
            }

            if (waitingOnBranchThatPassed)
            {
                unreachable.Add(id);
            }
            else if (waitingOnBranchBehind)
            {
                // Later ids wait on the same slow branch; they are decided when it catches up.
                break;
            }
        }

        foreach (var id in unreachable)
        {
            pending.Remove(id);
        }

        if (unreachable.Count > 0)
        {
            CountMissing(unreachable.Count);
        }
    }

    private void CountMissing(long rows)
    {
        Totals.CountDropped(MissingInBranch, rows);
        Interlocked.Add(ref _missing, rows);
    }

    private Row Combine(Row[] parts)
    {
        var view = View;
        var seen = view is null ? parts : Array.ConvertAll(parts, p => p.ViewAs(view));
        var combined = ColumnMappings.FromStep(Definition, view, _step.Combine(seen, Totals));
        if (!combined.HasError && Array.Find(parts, p => p.HasError) is { } failed)
        {
            // A row that failed in one branch stays failed after the join.
            combined[Row.ErrorColumn] = failed[Row.ErrorColumn];
        }

        return combined;
    }
}
