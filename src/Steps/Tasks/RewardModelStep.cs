using Distil.Engine.Model;
using Distil.Engine;
using Distil.Engine.Reward;
using Distil.Engine.Text;
using Distil.Engine.Text.Jinja;
using Distil.Engine.Text.Tokenizers;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>reward_model</c>: a local reward model (a one-label <c>*ForSequenceClassification</c> ONNX export) scores each
/// response of a row against the row's prompt; <c>rewards</c> gets one float per response (a float for a single
/// response column; null for a missing response or one over the length limit). With <c>"ratings": true</c> the
/// scores also go to <c>ratings</c> (and the model to <c>judge_model</c>), so preference_pairs and judge_agreement
/// read them as they read an LLM judge's. Not a chat model, so not a <see cref="ModelTask"/>: the model is taken from
/// the runtime's client as a <see cref="RewardModel"/> service, or opened from <c>model_path</c>.
/// </summary>
public sealed class RewardModelStep : IBatchStep, IModelRequirement
{
    /// <summary>Tally: responses over the model's length limit, left without a reward.</summary>
    public const string TooLong = "reward_too_long";

    public static readonly StepType Type = new(
        "reward_model",
        ["model", "model_path", "column", "prompt_column", "output_column", "ratings", "batch_size", "max_tokens", "truncation", "threads"],
        p => new RewardModelStep(p),
        "scores each response with a local ONNX reward model (sequence classifier); writes 'rewards' and optionally 'ratings'");

    private readonly string? _entry;
    private readonly string? _path;
    private readonly string _column;
    private readonly string _promptColumn;
    private readonly string _outputColumn;
    private readonly bool _ratings;
    private readonly int _batchSize;
    private readonly RewardLengthRule _length;
    private readonly int _threads;
    private RewardModel? _opened;

    public RewardModelStep(StepParameters parameters)
    {
        Name = parameters.Name;
        _entry = parameters.GetString("model");
        _path = parameters.GetPath("model_path");
        if ((_entry is null) == (_path is null))
        {
            throw parameters.Error(_entry is null ? "model" : "model_path", $"step '{Name}' needs exactly one of 'model' (an entry in \"models\") or 'model_path' (a reward model folder)");
        }

        if (_path is not null && !Directory.Exists(_path))
        {
            throw parameters.Error("model_path", $"reward model folder not found: {_path}");
        }

        if (_path is not null && !RewardModel.IsRewardModelFolder(_path))
        {
            throw parameters.Error("model_path", $"{_path} is not a reward model: its config.json does not name a *ForSequenceClassification architecture");
        }

        if (_entry is not null && parameters.Has("threads"))
        {
            throw parameters.Error("threads", "'threads' goes with 'model_path'; for a model in \"models\", set \"threads\" on its entry");
        }

        _column = Column(parameters, "column", "generations");
        _promptColumn = Column(parameters, "prompt_column", "instruction");
        _outputColumn = Column(parameters, "output_column", "rewards");
        _ratings = parameters.GetBoolean("ratings", false);
        if (_ratings && _outputColumn is "ratings" or "judge_model")
        {
            throw parameters.Error("output_column", $"'output_column' is '{_outputColumn}', which \"ratings\": true writes too; name another column");
        }

        _batchSize = parameters.GetInt32("batch_size", 8, 1, 4096);
        var maxTokens = parameters.Has("max_tokens") ? parameters.GetInt32("max_tokens", 0, 1, 1 << 24) : (int?)null;
        var truncateLeft = (parameters.GetString("truncation") ?? "none") switch
        {
            "none" => false,
            "left" => true,
            var other => throw parameters.Error("truncation", $"unknown truncation {PipelineDefinitionException.Quote(other)}; choose none (over-long responses get a null reward) or left (cut the start, keep the end)"),
        };
        _length = new RewardLengthRule(maxTokens, truncateLeft);
        _threads = parameters.GetInt32("threads", 0, 0, DefinitionLimits.MaxThreads);
        InputColumns = [_promptColumn, _column];
        OutputColumns = _ratings ? [_outputColumn, "ratings", "judge_model"] : [_outputColumn];
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns { get; }

    public IReadOnlyList<string> OutputColumns { get; }

    /// <summary>Cached when the model is a <c>models</c> entry, whose identity (the folder's content) is in the step's
    /// cache key; a bare <c>model_path</c> has no identity there, so its batches are recomputed rather than trusted.</summary>
    public bool CachesBatches => _entry is not null;

    public string? Refuse(string modelName, StepParameters model)
    {
        if (model.GetString("type") is not "local")
        {
            return $"reward_model needs a local reward model folder (\"type\": \"local\"), but model {PipelineDefinitionException.Quote(modelName)} is of type {PipelineDefinitionException.Quote(model.GetString("type"))}";
        }

        if (model.GetPath("path") is { } path && ModelFolderBuilder.IsModelFolder(path) && !RewardModel.IsRewardModelFolder(path))
        {
            return $"model {PipelineDefinitionException.Quote(modelName)} at {path} is not a reward model: its config.json does not name a *ForSequenceClassification architecture";
        }

        return null;
    }

    public ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var model = Model(context);
        var output = rows.Select(r => r.Clone()).ToArray();
        var pairs = new List<(string Prompt, string Response)>();
        var slots = new List<(Row Row, int Index)>();
        var scored = new List<(Row Row, int Count, bool Single)>();
        foreach (var row in output.Where(r => !r.HasError))
        {
            if (row.GetString(_promptColumn) is not { Length: > 0 } prompt)
            {
                context.RecordRowError(row, $"the column '{_promptColumn}' is missing or empty");
                continue;
            }

            var (responses, single) = row[_column] switch
            {
                string one => ([one], true),
                IReadOnlyList<object?> list => (list, false),
                _ => ((IReadOnlyList<object?>?)null, false),
            };
            if (responses is null)
            {
                context.RecordRowError(row, $"the column '{_column}' is missing or neither a response nor a list of responses");
                continue;
            }

            for (var i = 0; i < responses.Count; i++)
            {
                if (responses[i] is string response)
                {
                    pairs.Add((prompt, response));
                    slots.Add((row, i));
                }
            }

            scored.Add((row, responses.Count, single));
        }

        var scores = model.Score(pairs, _batchSize, _length, cancellationToken);
        var rewards = scored.ToDictionary(s => s.Row, s => new object?[s.Count]);
        for (var i = 0; i < slots.Count; i++)
        {
            if (scores[i] is { } score)
            {
                rewards[slots[i].Row][slots[i].Index] = (double)score;
            }
            else
            {
                context.Tally(TooLong);
            }
        }

        foreach (var (row, _, single) in scored)
        {
            var values = rewards[row].ToList();
            row[_outputColumn] = single ? values[0] : values;
            if (_ratings)
            {
                row["ratings"] = values;
                row["judge_model"] = _entry ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(_path!));
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Row>>(output);
    }

    /// <summary>The entry's model as the runtime opened it, or the folder of <c>model_path</c> opened on first use.</summary>
    private RewardModel Model(IStepContext context)
    {
        if (_entry is not null)
        {
            return context.GetModel(_entry).GetService<RewardModel>()
                ?? throw new InvalidOperationException($"{Name}: model '{_entry}' is not a reward model (its folder's config.json does not name a *ForSequenceClassification architecture)");
        }

        if (_opened is null)
        {
            try
            {
                _opened = RewardModel.Open(_path!, new RewardModelOptions { Threads = _threads });
            }
            catch (Exception e) when (e is ModelFormatException or TokenizerFormatException or JinjaTemplateException or ArgumentException)
            {
                throw new InvalidDataException($"{Name}: cannot load reward model {_path}: {e.Message}", e);
            }
        }

        return _opened;
    }

    private static string Column(StepParameters parameters, string name, string fallback) => parameters.GetString(name) switch
    {
        null => fallback,
        "" => throw parameters.Error(name, $"'{name}' must name a column"),
        var column => column,
    };
}
