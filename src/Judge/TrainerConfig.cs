namespace Distil.Judge;

/// <summary>The dataset configurations a preference pair can be written as, one per TRL trainer family.</summary>
public enum TrainerConfig
{
    /// <summary>DPO and friends (explicit prompt): <c>prompt</c>, <c>chosen</c>, <c>rejected</c> plus the pair's metadata.</summary>
    Dpo,

    /// <summary>KTO (unpaired preference): <c>prompt</c>, <c>completion</c>, <c>label</c>; two rows per pair, chosen true, rejected false.</summary>
    Kto,

    /// <summary>SFT: <c>messages</c> (the prompt then the chosen answer); with plain strings, <c>prompt</c> and <c>completion</c>.</summary>
    Sft,

    /// <summary>Reward modelling (implicit prompt): <c>chosen</c> and <c>rejected</c> each hold the whole exchange.</summary>
    Reward,
}

/// <summary>
/// Turns one DPO pair, as <c>preference_pairs</c> writes it, into the rows of each <see cref="TrainerConfig"/>.
/// Conversational pairs (message lists) stay conversational, plain-string pairs stay plain strings, following
/// TRL's dataset formats. Every row carries <c>prompt_id</c>, so any configuration can be grouped by prompt.
/// </summary>
public static class TrainerRows
{
    public static readonly IReadOnlyList<string> Names = ["dpo", "kto", "sft", "reward"];

    /// <summary>With <c>scores</c>: the aliases of the ratings that UltraFeedback-style datasets carry.</summary>
    public const string ScoreChosen = "score_chosen";

    public const string ScoreRejected = "score_rejected";

    public static bool TryParse(string name, out TrainerConfig config)
    {
        var index = Names.ToList().IndexOf(name);
        config = (TrainerConfig)Math.Max(index, 0);
        return index >= 0;
    }

    public static string NameOf(TrainerConfig config) => Names[(int)config];

    /// <summary>The TRL trainer a configuration is laid out for, as the dataset card names it.</summary>
    public static string TrainerOf(TrainerConfig config) => config switch
    {
        TrainerConfig.Dpo => "`DPOTrainer` (and other explicit-prompt preference trainers: ORPO, CPO)",
        TrainerConfig.Kto => "`KTOTrainer` (unpaired: one row per response, `label` true for chosen)",
        TrainerConfig.Sft => "`SFTTrainer` (the chosen answer only)",
        _ => "`RewardTrainer` (implicit prompt: the whole exchange in `chosen` and `rejected`)",
    };

    /// <summary>
    /// The rows of <paramref name="config"/> for one pair. <paramref name="dpoColumns"/> are the pair's columns
    /// the dpo configuration keeps (prompt, chosen, rejected and metadata).
    /// </summary>
    /// <exception cref="InvalidDataException">The pair's prompt, chosen and rejected are not all strings or all message lists.</exception>
    public static IEnumerable<Dictionary<string, object?>> RowsOf(TrainerConfig config, IReadOnlyDictionary<string, object?> pair, IReadOnlyList<string> dpoColumns, bool scores)
    {
        var prompt = pair.GetValueOrDefault("prompt");
        var chosen = pair.GetValueOrDefault("chosen");
        var rejected = pair.GetValueOrDefault("rejected");
        var conversational = (prompt, chosen, rejected) switch
        {
            (IReadOnlyList<object?>, IReadOnlyList<object?>, IReadOnlyList<object?>) => true,
            (string, string, string) => false,
            _ => throw new InvalidDataException("'prompt', 'chosen' and 'rejected' must be all strings or all lists of {role, content} messages (TRL's standard or conversational format)"),
        };
        var promptId = pair.GetValueOrDefault("prompt_id");
        switch (config)
        {
            case TrainerConfig.Dpo:
                var dpo = dpoColumns.ToDictionary(c => c, c => pair.GetValueOrDefault(c), StringComparer.Ordinal);
                yield return scores ? WithScores(dpo, pair) : dpo;
                break;
            case TrainerConfig.Kto:
                yield return Row(("prompt", prompt), ("completion", chosen), ("label", true), ("prompt_id", promptId));
                yield return Row(("prompt", prompt), ("completion", rejected), ("label", false), ("prompt_id", promptId));
                break;
            case TrainerConfig.Sft:
                yield return conversational
                    ? Row(("messages", Join(prompt, chosen)), ("prompt_id", promptId))
                    : Row(("prompt", prompt), ("completion", chosen), ("prompt_id", promptId));
                break;
            case TrainerConfig.Reward:
                var reward = Row(("chosen", Join(prompt, chosen)), ("rejected", Join(prompt, rejected)), ("prompt_id", promptId));
                yield return scores ? WithScores(reward, pair) : reward;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(config));
        }
    }

    /// <summary>The whole exchange: the prompt messages then the answer's, or the prompt text then the answer text.</summary>
    private static object? Join(object? prompt, object? answer) => prompt is string text
        ? text + (string)answer!
        : (object)((IReadOnlyList<object?>)prompt!).Concat((IReadOnlyList<object?>)answer!).ToList();

    /// <summary>Ratings as floats under the names of UltraFeedback-style datasets (an average of aspects need not be whole).</summary>
    private static Dictionary<string, object?> WithScores(Dictionary<string, object?> row, IReadOnlyDictionary<string, object?> pair)
    {
        row[ScoreChosen] = Score(pair.GetValueOrDefault("chosen_rating"));
        row[ScoreRejected] = Score(pair.GetValueOrDefault("rejected_rating"));
        return row;
    }

    private static double? Score(object? rating) => rating switch { long l => l, double d => d, _ => null };

    private static Dictionary<string, object?> Row(params (string Column, object? Value)[] values) =>
        values.ToDictionary(v => v.Column, v => v.Value, StringComparer.Ordinal);
}

/// <summary>What one written configuration holds, for its section of the dataset card.</summary>
public sealed record ConfigContents(TrainerConfig Config, IReadOnlyList<string> Columns, IReadOnlyList<(string Split, long Rows)> Splits);
