using Distil.Engine;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>text_generation</c>: one or more responses per row from one model. The user message is the
/// <c>instruction</c> column or a <c>template</c> with <c>{{column}}</c> placeholders; an optional system prompt
/// is a literal (<c>system_prompt</c>) or a column (<c>system_prompt_column</c>). Requests of a batch go to the
/// model together (the local engine batches them; remote endpoints get concurrent calls).
/// Adds <c>generation</c> and <c>model_name</c> (with <c>num_generations</c> &gt; 1: the lists <c>generations</c>
/// and <c>model_names</c>), the token columns of <see cref="TokenColumns"/>, and <c>prompt_messages</c>: the exact
/// messages sent (<c>[{role, content}]</c>, system prompt and rendered user turn), which <c>preference_pairs</c>
/// turns into the dataset's prompt.
/// </summary>
public sealed class TextGenerationStep : IBatchStep
{
    public static readonly StepType Type = new(
        "text_generation",
        ["model", "template", "system_prompt", "system_prompt_column", "num_generations", "generation", "max_concurrency"],
        p => new TextGenerationStep(p),
        "generates responses with a model from a template over the row's columns");

    private readonly string _model;
    private readonly PromptTemplate _template;
    private readonly string? _systemPrompt;
    private readonly string? _systemPromptColumn;
    private readonly int _numGenerations;
    private readonly int _maxConcurrency;
    private readonly GenerationSettings _generation;

    /// <summary>The column holding the messages a model was sent.</summary>
    public const string PromptMessagesColumn = "prompt_messages";

    public TextGenerationStep(StepParameters parameters)
    {
        Name = parameters.Name;
        _model = parameters.RequireString("model");
        _template = parameters.GetString("template") is { } template ? PromptTemplate.Parse(template) : PromptTemplate.ForColumn("instruction");
        if (_template.Columns.Count == 0)
        {
            throw parameters.Error("template", "the template names no column; use {{column}} placeholders, e.g. {{instruction}}");
        }

        _systemPrompt = parameters.GetString("system_prompt");
        _systemPromptColumn = parameters.GetString("system_prompt_column");
        if (_systemPrompt is not null && _systemPromptColumn is not null)
        {
            throw parameters.Error("system_prompt_column", "give either 'system_prompt' or 'system_prompt_column', not both");
        }

        _numGenerations = parameters.GetInt32("num_generations", 1);
        if (_numGenerations < 1)
        {
            throw parameters.Error("num_generations", "'num_generations' must be at least 1");
        }

        _maxConcurrency = parameters.GetInt32("max_concurrency", 16);
        if (_maxConcurrency < 1)
        {
            throw parameters.Error("max_concurrency", "'max_concurrency' must be at least 1");
        }

        _generation = GenerationSettings.From(parameters);
        InputColumns = _systemPromptColumn is null ? _template.Columns : [.. _template.Columns, _systemPromptColumn];
        OutputColumns = _numGenerations == 1
            ? ["generation", "model_name", PromptMessagesColumn, TokenColumns.Input(Name), TokenColumns.Output(Name), TokenColumns.PerResponse]
            : ["generations", "model_names", PromptMessagesColumn, TokenColumns.Input(Name), TokenColumns.Output(Name), TokenColumns.PerResponse];
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns { get; }

    public IReadOnlyList<string> OutputColumns { get; }

    public async ValueTask<IReadOnlyList<Row>> ProcessAsync(IReadOnlyList<Row> rows, IStepContext context, CancellationToken cancellationToken)
    {
        var client = context.GetModel(_model);
        var modelName = client.GetService<ChatClientMetadata>()?.DefaultModelId ?? _model;
        var output = rows.Select(r => r.Clone()).ToArray();
        var requests = new List<BatchChatRequest>();
        var owners = new List<(int Row, int Index)>();
        for (var i = 0; i < output.Length; i++)
        {
            var row = output[i];
            if (row.HasError)
            {
                continue;
            }

            if (!_template.TryRender(row, out var user, out var error))
            {
                context.RecordRowError(row, $"{Name}: {error}");
                continue;
            }

            var system = _systemPromptColumn is null ? _systemPrompt : row[_systemPromptColumn] as string;
            List<ChatMessage> messages = string.IsNullOrEmpty(system)
                ? [new(ChatRole.User, user)]
                : [new(ChatRole.System, system), new(ChatRole.User, user)];
            row[PromptMessagesColumn] = messages
                .Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role.Value, ["content"] = m.Text })
                .ToList();
            for (var k = 0; k < _numGenerations; k++)
            {
                requests.Add(new BatchChatRequest(messages, _generation.ToChatOptions(row.Id, k)));
                owners.Add((i, k));
            }
        }

        if (requests.Count == 0)
        {
            return output;
        }

        var results = await ConcurrentBatchChatClient.For(client, _maxConcurrency).GetResponsesAsync(requests, cancellationToken).ConfigureAwait(false);
        var texts = new Dictionary<int, string[]>();
        var failures = new Dictionary<int, string>();
        var inputTokens = new Dictionary<int, long>();
        var outputTokens = new Dictionary<int, long>();
        var responseTokens = new Dictionary<int, long?[]>();
        for (var r = 0; r < results.Count; r++)
        {
            var (i, k) = owners[r];
            var result = results[r];
            if (result.Response is null)
            {
                failures.TryAdd(i, result.Error ?? "the model returned no response");
                continue;
            }

            (texts.TryGetValue(i, out var list) ? list : texts[i] = new string[_numGenerations])[k] = result.Response.Text;
            (responseTokens.TryGetValue(i, out var counts) ? counts : responseTokens[i] = new long?[_numGenerations])[k] = result.Response.Usage?.OutputTokenCount;
            var (input, generated) = TokenUsage.Of(result.Response);
            inputTokens[i] = inputTokens.GetValueOrDefault(i) + input;
            outputTokens[i] = outputTokens.GetValueOrDefault(i) + generated;
            context.AddTokens(input, generated);
        }

        foreach (var i in owners.Select(o => o.Row).Distinct())
        {
            var row = output[i];
            row[TokenColumns.Input(Name)] = inputTokens.GetValueOrDefault(i);
            row[TokenColumns.Output(Name)] = outputTokens.GetValueOrDefault(i);
            if (failures.TryGetValue(i, out var failure))
            {
                context.RecordRowError(row, $"{Name}: model '{_model}' failed: {failure}");
                continue;
            }

            var generated = texts[i];
            var lengths = responseTokens[i];
            if (_numGenerations == 1)
            {
                row["generation"] = generated[0];
                row["model_name"] = modelName;
                row[TokenColumns.PerResponse] = lengths[0];
            }
            else
            {
                row["generations"] = generated.Cast<object?>().ToList();
                row["model_names"] = Enumerable.Repeat<object?>(modelName, _numGenerations).ToList();
                row[TokenColumns.PerResponse] = lengths.Select(n => (object?)n).ToList();
            }
        }

        return output;
    }
}
