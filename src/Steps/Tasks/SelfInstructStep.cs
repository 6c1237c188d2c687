using System.Globalization;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// <c>self_instruct</c>: new instructions from a seed task (Self-Instruct, Wang et al. 2022). Each row's
/// <c>instruction</c> column is the seed; the model is asked for <c>num_instructions</c> new, different tasks (optionally
/// for an <c>application_description</c> and meeting <c>criteria</c>), and its answer is read by
/// <see cref="InstructionList"/>. Adds <c>instructions</c> (at most <c>num_instructions</c>, empties, repeats and copies
/// of the seed dropped), <c>instructions_parsed</c> (how many were kept), <c>model_name</c> and the token columns.
/// A row whose answer yields no instruction fails with the answer's start.
/// </summary>
public sealed class SelfInstructStep : ModelTask
{
    public static readonly StepType Type = new(
        "self_instruct",
        ParametersWith("num_instructions", "criteria", "application_description"),
        p => new SelfInstructStep(p),
        "asks a model for new instructions inspired by each row's seed instruction (a list per row)");

    private const string DefaultCriteria =
        "Vary the verbs and the kinds of task (questions, writing, analysis, planning, code). Each task must be answerable by a text-only assistant and must stand on its own.";

    private readonly int _count;
    private readonly string _criteria;
    private readonly string? _application;

    public SelfInstructStep(StepParameters parameters)
        : base(parameters)
    {
        _count = parameters.GetInt32("num_instructions", 5, 1, 100);
        _criteria = parameters.GetString("criteria") ?? DefaultCriteria;
        _application = parameters.GetString("application_description");
    }

    public override IReadOnlyList<string> InputColumns { get; } = ["instruction"];

    public override IReadOnlyList<string> OutputColumns => ["instructions", "instructions_parsed", "model_name", TokenColumns.Input(Name), TokenColumns.Output(Name)];

    /// <summary>The request for one seed.</summary>
    internal string Prompt(string seed) => string.Create(CultureInfo.InvariantCulture, $"""
        You write tasks for an AI assistant{(_application is null ? "" : $" that serves this application: {_application}")}.
        Here is an example task:
        {seed}

        Write {_count} new tasks that are different from the example and from each other. {_criteria}
        Answer with a numbered list, one task per item (1. ... 2. ...), and nothing else.
        """);

    protected override async Task ProcessRowsAsync(IReadOnlyList<Row> rows, ModelCalls calls, CancellationToken cancellationToken)
    {
        var requests = new List<ModelRequest>();
        foreach (var row in rows)
        {
            if (row.GetString("instruction") is not { } seed || string.IsNullOrWhiteSpace(seed))
            {
                calls.Fail(row, "the column 'instruction' is missing or empty");
                continue;
            }

            requests.Add(new ModelRequest(row, [new ChatMessage(ChatRole.User, Prompt(seed.Trim()))], Generation.ToChatOptions(row.Id, 0)));
        }

        var replies = await calls.SendAsync(requests, cancellationToken).ConfigureAwait(false);
        var modelName = calls.ModelId;
        foreach (var reply in replies)
        {
            if (reply.Response is null)
            {
                calls.Fail(reply.Row, $"model '{Model}' failed: {reply.Error}");
                continue;
            }

            var parsed = InstructionList.Parse(reply.Text, [reply.Row.GetString("instruction")!]).Take(_count).ToList();
            if (parsed.Count == 0)
            {
                calls.Fail(reply.Row, $"no instruction could be read from the model's answer: {Excerpt(reply.Text)}");
                continue;
            }

            reply.Row["instructions"] = parsed.Cast<object?>().ToList();
            reply.Row["instructions_parsed"] = (long)parsed.Count;
            reply.Row["model_name"] = modelName;
        }
    }

    private static string Excerpt(string text) =>
        text.Length == 0 ? "(empty)" : PipelineDefinitionException.Quote(text, 80);
}
