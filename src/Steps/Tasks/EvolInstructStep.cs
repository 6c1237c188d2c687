using Distil.Pipeline;
using Distil.Seeding;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>evol_instruct</c>: each row's <c>instruction</c> evolved <c>num_evolutions</c> times (WizardLM's Evol-Instruct).
/// Each round applies one <see cref="Evolution"/> from <c>evolutions</c>, chosen per row and round from the run seed;
/// an evolution that <see cref="EvolutionCheck"/> eliminates is dropped and the next round starts again from the
/// last kept prompt. Adds <c>evolved_instruction</c> (the last kept prompt; the seed if none was kept),
/// <c>evolution_operations</c> and <c>evolution_outcomes</c> (one entry per round: the evolution, and <c>kept</c> or why it
/// was eliminated), <c>evolutions_kept</c>, <c>model_name</c> and the token columns.
/// </summary>
public sealed class EvolInstructStep : ModelTask
{
    public static readonly StepType Type = new(
        "evol_instruct",
        ParametersWith("num_evolutions", "evolutions", "min_length"),
        p => new EvolInstructStep(p),
        "evolves each instruction in rounds (WizardLM depth and breadth evolutions), eliminating failed evolutions");

    private readonly int _rounds;
    private readonly IReadOnlyList<Evolution> _evolutions;
    private readonly int _minLength;

    public EvolInstructStep(StepParameters parameters)
        : base(parameters)
    {
        _rounds = parameters.GetInt32("num_evolutions", 1, 1, 20);
        _minLength = parameters.GetInt32("min_length", 12, 1, 100_000);
        var names = parameters.GetStringList("evolutions");
        if (names is { Count: 0 })
        {
            throw parameters.Error("evolutions", $"'evolutions' lists none; choose from: {string.Join(", ", Evolution.All.Select(e => e.Name))}");
        }

        _evolutions = names is null ? Evolution.All : names.Select((name, i) => Evolution.TryParse(name, out var evolution)
            ? evolution
            : throw parameters.Error($"evolutions[{i}]", $"unknown evolution {PipelineDefinitionException.Quote(name)}; choose from: {string.Join(", ", Evolution.All.Select(e => e.Name))}")).ToList();
    }

    public override IReadOnlyList<string> InputColumns { get; } = ["instruction"];

    public override IReadOnlyList<string> OutputColumns => ["evolved_instruction", "evolution_operations", "evolution_outcomes", "evolutions_kept", "model_name", TokenColumns.Input(Name), TokenColumns.Output(Name)];

    /// <summary>The evolution row <paramref name="rowId"/> gets in <paramref name="round"/>: the same in every run with this seed.</summary>
    internal Evolution Choose(long rowId, int round) =>
        _evolutions[(int)(StableSeed.Derive(Generation.Seed, rowId, StableSeed.Evolution, round) % _evolutions.Count)];

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var current = new Dictionary<Row, string>();
        foreach (var row in rows)
        {
            if (row.GetString("instruction") is { } seed && !string.IsNullOrWhiteSpace(seed))
            {
                current[row] = seed.Trim();
                row["evolution_operations"] = new List<object?>();
                row["evolution_outcomes"] = new List<object?>();
            }
            else
            {
                calls.Fail(row, "the column 'instruction' is missing or empty");
            }
        }

        for (var round = 0; round < _rounds && current.Count > 0; round++)
        {
            var chosen = current.Keys.ToDictionary(row => row, row => Choose(row.Id, round));
            var requests = current.Select(c => new ModelRequest(c.Key, [new ChatMessage(ChatRole.User, chosen[c.Key].Request(c.Value))], Generation.ToChatOptions(c.Key.Id, round))).ToList();
            foreach (var reply in await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false))
            {
                var row = reply.Row;
                if (reply.Response is null)
                {
                    calls.Fail(row, $"model '{Model}' failed in evolution round {round + 1}: {reply.Error}");
                    current.Remove(row);
                    continue;
                }

                var outcome = EvolutionCheck.Judge(reply.Text, current[row], _minLength);
                ((List<object?>)row["evolution_operations"]!).Add(chosen[row].Name);
                ((List<object?>)row["evolution_outcomes"]!).Add(outcome);
                if (outcome == EvolutionCheck.Kept)
                {
                    current[row] = reply.Text.Trim();
                }
            }
        }

        var modelName = calls.ModelId;
        foreach (var (row, instruction) in current)
        {
            row["evolved_instruction"] = instruction;
            row["evolutions_kept"] = (long)((List<object?>)row["evolution_outcomes"]!).Count(o => (string?)o == EvolutionCheck.Kept);
            row["model_name"] = modelName;
        }
    }
}
