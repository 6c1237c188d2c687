namespace Distil.Pipeline;

/// <summary>
/// What determines a model's outputs, as a digest: for a local model the content of its folder (weights, ONNX
/// graph and external data, config, generation config, tokenizer, chat template) and the settings that change
/// its arithmetic; for a served model the endpoint and model name. Part of the cache key of every step that
/// calls the model, recorded in the manifest and the dataset card.
/// </summary>
/// <param name="Name">The key in the definition's <c>models</c>.</param>
/// <param name="Digest">SHA-256 (hex) of the above.</param>
/// <param name="Description">What the digest covers, for people (e.g. <c>local folder, 7 files</c>).</param>
public sealed record ModelIdentity(string Name, string Digest, string Description);
