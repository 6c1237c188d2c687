using Distil.Steps;

namespace Distil;

/// <summary>A <c>text_generation</c> step's own keys (docs/steps.md).</summary>
/// <param name="Model">The key in the definition's models.</param>
public sealed record TextGenerationTask(string Model)
{
    public GenerationSettings? Generation { get; init; }

    /// <summary>The prompt template over the row's columns (default: the <c>instruction</c> column as it is).</summary>
    public string? Template { get; init; }

    public string? SystemPrompt { get; init; }

    public string? SystemPromptColumn { get; init; }

    public int? NumGenerations { get; init; }

    /// <summary>Concurrent calls for clients without a batch path.</summary>
    public int? MaxConcurrency { get; init; }
}

/// <summary>An <c>ultrafeedback</c> judge step's own keys (docs/judge.md).</summary>
/// <param name="Model">The judge, a key in the definition's models.</param>
public sealed record UltraFeedbackTask(string Model)
{
    /// <summary>The UltraFeedback aspect, e.g. <c>overall-rating</c> (the default), <c>helpfulness</c>, <c>honesty</c>.</summary>
    public string? Aspect { get; init; }

    public GenerationSettings? Generation { get; init; }

    public int? RationaleMaxLength { get; init; }

    public bool? Shuffle { get; init; }

    public bool? StructuredOutput { get; init; }

    public int? MaxConcurrency { get; init; }
}

/// <summary>A <c>preference_pairs</c> step's own keys (docs/judge.md).</summary>
public sealed record PreferencePairsSettings
{
    /// <summary><c>best_vs_worst</c> (the default), <c>best_vs_random</c>, …</summary>
    public string? Strategy { get; init; }

    public double? MinMargin { get; init; }

    public long? Seed { get; init; }

    public string? Format { get; init; }

    public IReadOnlyList<string>? Ratings { get; init; }

    public string? SystemPrompt { get; init; }

    public double? MaxLengthRatio { get; init; }

    public IReadOnlyList<string>? Outputs { get; init; }
}
