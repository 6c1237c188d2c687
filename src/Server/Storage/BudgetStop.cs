using System.Globalization;

namespace Distil.Server.Storage;

/// <summary>The error a run stopped at its budget carries; the stores write it when they end the run.</summary>
internal static class BudgetStop
{
    public static string Message(decimal spentUsd, decimal budgetUsd) =>
        string.Create(CultureInfo.InvariantCulture, $"budget: the run's models cost ${spentUsd:0.######}, its budget_usd is ${budgetUsd} (all shards together)");
}
