using System.Globalization;
using Distil.Pipeline;
using Distil.Server.Storage;

namespace Distil.Server.Jobs;

/// <summary>
/// A run's <c>budget_usd</c> shared by its shards: each shard charges what its models cost, as it goes, to the run's one
/// spend row in the store, and stops once the run's total reaches the budget, which also cancels the run (reason:
/// budget), so shards not started yet do not start. Within one shard the runner enforces what was left of the budget
/// when the shard started; the shared row catches what several shards spend together.
/// </summary>
internal sealed class RunBudget
{
    private readonly IRunStore _store;
    private readonly Guid _runId;
    private readonly IReadOnlyDictionary<string, ModelPrice> _priceOfStep;
    private decimal _charged;

    private RunBudget(IRunStore store, Guid runId, decimal budgetUsd, IReadOnlyDictionary<string, ModelPrice> priceOfStep)
    {
        _store = store;
        _runId = runId;
        BudgetUsd = budgetUsd;
        _priceOfStep = priceOfStep;
    }

    public decimal BudgetUsd { get; }

    /// <summary>The run's budget, or null when its definition sets none.</summary>
    public static RunBudget? Of(IRunStore store, Guid runId, PipelineDefinition definition)
    {
        if (definition.BudgetUsd is not { } budget)
        {
            return null;
        }

        var problems = new DefinitionProblems();
        var prices = new Dictionary<string, ModelPrice>(StringComparer.Ordinal);
        foreach (var step in definition.Steps)
        {
            if (step.Model is { } model && definition.Models.TryGetValue(model, out var entry) && ModelPrice.Read(model, entry, problems) is { } price)
            {
                prices[step.Name] = price;
            }
        }

        return new RunBudget(store, runId, budget, prices);
    }

    /// <summary>What the steps' tokens so far cost (steps whose model has no price cost nothing).</summary>
    public decimal CostOf(IEnumerable<StepProgress> steps) =>
        steps.Sum(s => _priceOfStep.TryGetValue(s.Step, out var price) ? price.Cost(s.InputTokens, s.OutputTokens) : 0);

    /// <summary>
    /// Charges the shard's cost beyond what it charged already; true when the run's total has reached the budget (the
    /// run is then cancelled with the reason).
    /// </summary>
    public async Task<bool> ChargeAsync(decimal shardCostUsd, CancellationToken cancellationToken)
    {
        var delta = Math.Max(0, shardCostUsd - _charged);
        var total = await _store.ChargeAsync(_runId, delta, cancellationToken);
        _charged += delta;
        if (total < BudgetUsd)
        {
            return false;
        }

        await _store.StopAtBudgetAsync(_runId, total, BudgetUsd, cancellationToken);
        return true;
    }

    /// <summary>What is left of the budget for a shard about to start (zero or less: nothing).</summary>
    public async Task<decimal> LeftAsync(CancellationToken cancellationToken) =>
        BudgetUsd - await _store.ChargeAsync(_runId, 0, cancellationToken);
}
