using Distil.Judge;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// <c>preference_pairs</c>: turns each rated row into one DPO example (TRL columns <c>prompt</c>, <c>chosen</c>,
/// <c>rejected</c>; conversational message lists by default, plain strings with <c>format: standard</c>) plus
/// <c>prompt_id</c>, <c>chosen_rating</c>, <c>rejected_rating</c>, <c>chosen_model</c>, <c>rejected_model</c>,
/// <c>ratings</c>, <c>judge_model</c>, and <c>chosen_tokens</c>/<c>rejected_tokens</c> (the generators' reported
/// output tokens, null when not recorded). Ratings of several aspects (<c>ratings: [col, ...]</c>) are averaged.
/// Ties, pairs closer than <c>min_margin</c>, rows with missing ratings and rows that failed upstream are
/// dropped and counted by reason; none of them fails the batch.
/// The prompt is what the generators were sent: <c>generation_prompts</c> (each generator's
/// <c>prompt_messages</c>, gathered by <c>combine_columns</c>; they must all be equal) or <c>prompt_messages</c>;
/// only rows without either fall back to <c>instruction</c> (or with <c>"input": "messages"</c>, the conversation in
/// <c>messages</c>) and this step's <c>system_prompt</c>. A multi-turn prompt stays whole: TRL's conversational
/// format takes the prompt as the list of messages and chosen/rejected as the one assistant message that follows.
/// </summary>
public sealed class PreferencePairsStep : IBatchStep
{
    public static readonly StepType Type = new(
        "preference_pairs",
        ["strategy", "min_margin", "seed", "format", "ratings", "system_prompt", "max_length_ratio", "outputs", PromptInput.Parameter],
        p => new PreferencePairsStep(p),
        "picks chosen/rejected responses from the ratings and writes TRL DPO columns");

    /// <summary>Drop reason for rows that carry an error from an earlier step.</summary>
    public const string UpstreamError = "upstream_error";

    private readonly PreferencePairSelector _selector;
    private readonly DpoFormat _format;
    private readonly IReadOnlyList<string> _ratingColumns;
    private readonly string? _systemPrompt;
    private readonly double? _maxLengthRatio;
    private readonly bool _sft;
    private readonly bool _messages;

    public PreferencePairsStep(StepParameters parameters)
    {
        Name = parameters.Name;
        var strategy = parameters.GetString("strategy") ?? "best_vs_worst";
        var pairStrategy = strategy switch
        {
            "best_vs_worst" => PairStrategy.BestVsWorst,
            "best_vs_random_lower" => PairStrategy.BestVsRandomLower,
            _ => throw parameters.Error("strategy", $"unknown strategy '{strategy}'; choose best_vs_worst or best_vs_random_lower"),
        };
        var minMargin = parameters.GetDouble("min_margin", 0);
        if (minMargin < 0 || minMargin > UltraFeedbackAspect.MaxRating - UltraFeedbackAspect.MinRating)
        {
            throw parameters.Error("min_margin", "'min_margin' must be between 0 and 4");
        }

        _selector = new PreferencePairSelector(pairStrategy, minMargin, parameters.GetInt64("seed", 0));
        var format = parameters.GetString("format") ?? "conversational";
        _format = format switch
        {
            "conversational" => DpoFormat.Conversational,
            "standard" => DpoFormat.Standard,
            _ => throw parameters.Error("format", $"unknown format '{format}'; choose conversational or standard"),
        };
        _ratingColumns = parameters.GetStringList("ratings") ?? ["ratings"];
        if (_ratingColumns.Count == 0)
        {
            throw parameters.Error("ratings", "'ratings' must name at least one column");
        }

        _systemPrompt = parameters.GetString("system_prompt");
        if (_systemPrompt is not null && _format == DpoFormat.Standard)
        {
            throw parameters.Error("system_prompt", "format 'standard' writes the prompt as one string, which has no place for a system prompt (it would be dropped); use format 'conversational'");
        }

        if (parameters.Has("max_length_ratio"))
        {
            var ratio = parameters.GetDouble("max_length_ratio", 0);
            _maxLengthRatio = ratio >= 1 && double.IsFinite(ratio) ? ratio
                : throw parameters.Error("max_length_ratio", "'max_length_ratio' must be a number of at least 1 (the longer response's tokens over the shorter's)");
        }

        var outputs = parameters.GetStringList("outputs") ?? ["dpo"];
        foreach (var output in outputs)
        {
            if (output is not ("dpo" or "sft"))
            {
                throw parameters.Error("outputs", output is "kto" or "reward"
                    ? $"'{output}' is a dataset configuration of its own ({(output == "kto" ? "two rows per pair" : "the whole exchange in chosen and rejected")}): write it with a format_outputs step after this one, e.g. \"configs\": [\"dpo\", \"{output}\"]"
                    : $"unknown output '{output}'; choose from dpo, sft (format_outputs writes the dpo, kto, sft and reward configurations)");
            }
        }

        if (!outputs.Contains("dpo"))
        {
            throw parameters.Error("outputs", "'outputs' must include 'dpo': the pair columns are what the other layouts are derived from");
        }

        _sft = outputs.Contains("sft");
        _messages = PromptInput.ReadsMessages(parameters);
        InputColumns = [PromptInput.ColumnOf(_messages), "generations", .. _ratingColumns];
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns { get; }

    public IReadOnlyList<string> OutputColumns => _sft ? [.. DpoExample.Columns, SftColumn] : DpoExample.Columns;

    /// <summary>With <c>outputs: [..., "sft"]</c>: TRL's conversational SFT column, the prompt plus the chosen answer.</summary>
    public const string SftColumn = "messages";

    /// <summary>Cheap and deterministic: recomputed on resume rather than cached.</summary>
    public bool CachesBatches => false;

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var output = new List<Row>(rows.Count);
        foreach (var input in rows)
        {
            if (input.HasError)
            {
                context.CountDropped(UpstreamError);
                continue;
            }

            if (input["generations"] is not IReadOnlyList<object?> generations || generations.Any(g => g is not string))
            {
                context.CountDropped(NoPairReason.MissingRatings);
                continue;
            }

            var perAspect = _ratingColumns.Select(c => ReadRatings(input[c])).ToList();
            var scores = PreferencePairSelector.AverageAcrossAspects(perAspect, generations.Count);
            var selection = _selector.Select(scores, input.Id);
            if (selection.Pair is not { } pair)
            {
                context.CountDropped(selection.DropReason!);
                continue;
            }

            var lengths = ReadTokenCounts(input, generations.Count);
            if (_maxLengthRatio is { } maxRatio)
            {
                if (lengths is null || lengths[pair.Chosen] is not { } c || lengths[pair.Rejected] is not { } r)
                {
                    context.CountDropped(LengthBias.MissingTokenCounts);
                    continue;
                }

                if (LengthBias.Ratio(c, r) > maxRatio)
                {
                    context.CountDropped(LengthBias.AboveMaxRatio);
                    continue;
                }
            }

            if (PromptOf(input, out var problem) is not { } promptMessages)
            {
                // Rows without a prompt are failed where they can be found, not dropped silently.
                var failed = input.Clone();
                context.RecordRowError(failed, $"{Name}: {problem}");
                output.Add(failed);
                continue;
            }

            DpoExample example;
            try
            {
                example = DpoExample.FromMessages(promptMessages, (string)generations[pair.Chosen]!, (string)generations[pair.Rejected]!, _format);
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(Name, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{Name}: row {input.Id}: {e.Message}", e);
            }
            var models = input["model_names"] as IReadOnlyList<object?>;
            var row = input.Clone();
            row["prompt"] = example.Prompt;
            row["chosen"] = example.Chosen;
            row["rejected"] = example.Rejected;
            row["prompt_id"] = example.PromptId;
            row["chosen_rating"] = RatingOf(input, pair.Chosen, pair.ChosenScore);
            row["rejected_rating"] = RatingOf(input, pair.Rejected, pair.RejectedScore);
            row["chosen_model"] = models is not null && models.Count == generations.Count ? models[pair.Chosen] as string : null;
            row["rejected_model"] = models is not null && models.Count == generations.Count ? models[pair.Rejected] as string : null;
            row["ratings"] = _ratingColumns is ["ratings"] ? input["ratings"] : scores.Select(s => (object?)s).ToList();
            row["judge_model"] = input["judge_model"] as string;
            row["chosen_tokens"] = lengths?[pair.Chosen];
            row["rejected_tokens"] = lengths?[pair.Rejected];
            if (_sft)
            {
                row[SftColumn] = DpoExample.SftMessages(promptMessages, (string)generations[pair.Chosen]!);
            }
            output.Add(row);
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(output);
    }

    /// <summary>
    /// One aspect: the judge's rating as given (an integer from UltraFeedback, so the column is int64 like
    /// <c>ratings</c>). Several aspects: their average, which need not be whole.
    /// </summary>
    private object RatingOf(Row input, int generation, double score) =>
        _ratingColumns.Count == 1 && input[_ratingColumns[0]] is IReadOnlyList<object?> ratings && ratings[generation] is long rating ? (object)rating : score;

    /// <summary>Each generator's messages, gathered by combine_columns (one entry per branch).</summary>
    public const string GenerationPromptsColumn = "generation_prompts";

    /// <summary>The messages the generators were sent; they must agree, since one prompt heads the pair.</summary>
    private List<(string Role, string Content)>? PromptOf(Row input, out string problem)
    {
        problem = string.Empty;
        List<object?> sent = [];
        if (input[GenerationPromptsColumn] is IReadOnlyList<object?> perGenerator)
        {
            sent.AddRange(perGenerator.Where(p => p is not null));
        }
        else if (input[TextGenerationStep.PromptMessagesColumn] is { } single)
        {
            sent.Add(single);
        }

        if (sent.Count == 0)
        {
            return Unsent(input, out problem);
        }

        var distinct = sent.Select(RowJson.ToJson).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count > 1)
        {
            throw new InvalidDataException(
                $"{Name}: row {input.Id}: the generators were sent different prompts ({string.Join(" vs ", distinct)}); " +
                "a preference pair needs both answers to one prompt: give the text_generation steps the same template and system prompt");
        }

        var messages = ((IReadOnlyList<object?>)sent[0]!).Select(m => m is IReadOnlyDictionary<string, object?> d && d.GetValueOrDefault("role") is string role && d.GetValueOrDefault("content") is string content
            ? (role, content)
            : throw new InvalidDataException($"{Name}: row {input.Id}: '{TextGenerationStep.PromptMessagesColumn}' must be a list of {{role, content}} messages")).ToList();
        if (_systemPrompt is not null && !messages.Any(m => m.role == "system" && m.content == _systemPrompt))
        {
            throw new InvalidDataException($"{Name}: row {input.Id}: 'system_prompt' is set here but the generators were not sent it; set it on the text_generation steps, where it reaches the models");
        }

        return messages;
    }

    /// <summary>The prompt of a row no generator recorded: its instruction or conversation, with this step's system prompt.</summary>
    private List<(string Role, string Content)>? Unsent(Row input, out string problem)
    {
        problem = string.Empty;
        List<(string Role, string Content)> system = string.IsNullOrEmpty(_systemPrompt) ? [] : [("system", _systemPrompt)];
        if (!_messages)
        {
            if (input.GetString("instruction") is { } instruction)
            {
                return [.. system, ("user", instruction)];
            }

            problem = $"the column 'instruction' is missing or null, and no generator recorded '{TextGenerationStep.PromptMessagesColumn}'";
            return null;
        }

        if (!Conversation.TryRead(input, Conversation.Column, out var conversation, out problem))
        {
            return null;
        }

        return conversation.HasSystemPrompt ? [.. conversation.Messages] : [.. system, .. conversation.Messages];
    }

    /// <summary>
    /// Each response's output tokens as text_generation recorded them (<see cref="TokenColumns.PerResponse"/>,
    /// gathered by combine_columns); null when the column is absent or does not line up with the responses.
    /// Nothing is estimated from the text: a count the model did not report stays null.
    /// </summary>
    private static long?[]? ReadTokenCounts(Row input, int responses) =>
        input[TokenColumns.PerResponse] is IReadOnlyList<object?> counts && counts.Count == responses
            ? counts.Select(c => c as long?).ToArray()
            : null;

    /// <summary>A rating list as numbers; anything that is not a number becomes a missing rating.</summary>
    private static IReadOnlyList<double?> ReadRatings(object? value) => value is IReadOnlyList<object?> list
        ? list.Select(v => v switch { long l => (double?)l, double d => d, _ => null }).ToList()
        : [];
}
