using System.Globalization;

namespace Distil.Pipeline;

/// <summary>A run stopped because what it spent reached its <c>budget_usd</c>; finished batches are kept and a rerun with a higher budget resumes.</summary>
public sealed class BudgetReachedException(decimal budgetUsd, decimal spentUsd)
    : Exception(string.Create(CultureInfo.InvariantCulture, $"the budget of ${budgetUsd} was reached (${spentUsd:0.######} spent); finished batches are kept, and a rerun with a higher budget resumes from them"))
{
    public decimal BudgetUsd { get; } = budgetUsd;

    public decimal SpentUsd { get; } = spentUsd;
}
