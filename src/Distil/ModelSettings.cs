namespace Distil;

/// <summary>A <c>type: local</c> model: an ONNX model folder run by Distil's engine (docs/models.md).</summary>
/// <param name="Path">The model folder; relative paths start at the definition's folder (<see cref="DistilPipeline.RelativeTo"/>).</param>
public sealed record LocalModelSettings(string Path)
{
    /// <summary>Builds a random-weight model into <see cref="Path"/> when the folder does not exist yet.</summary>
    public ModelBuild? Build { get; init; }

    public string? ChatTemplate { get; init; }

    public int? Threads { get; init; }

    public string? Device { get; init; }

    public int? MaxBatchSize { get; init; }

    public bool? Deterministic { get; init; }

    public string? Variant { get; init; }

    public ModelPricing? Price { get; init; }

    public string? Description { get; init; }
}

/// <summary>The <c>build</c> recipe of a local model (<c>distil models build --preset … --seed …</c>).</summary>
public sealed record ModelBuild(string Preset, ulong Seed);

/// <summary>A <c>type: openai</c> model: any OpenAI-compatible endpoint (OpenAI, vLLM, TGI, Inference Endpoints).</summary>
/// <param name="Model">The model name the endpoint serves.</param>
public sealed record ServedModelSettings(string Model)
{
    public string? Endpoint { get; init; }

    /// <summary>The environment variable holding the API key (the key itself never enters a definition).</summary>
    public string? ApiKeyEnv { get; init; }

    public int? MaxConcurrency { get; init; }

    public int? MaxRetries { get; init; }

    public double? TimeoutS { get; init; }

    public long? RequestsPerMinute { get; init; }

    public long? TokensPerMinute { get; init; }

    public ModelPricing? Price { get; init; }

    public string? Description { get; init; }
}

/// <summary>A model's <c>price</c>: US dollars per million tokens, and the discount of batch APIs (0 to 1).</summary>
public sealed record ModelPricing(decimal InputPerMtok, decimal OutputPerMtok)
{
    public decimal? BatchDiscount { get; init; }
}
