namespace Distil.Engine;

/// <summary>What the local engine did for one response (the response's RawRepresentation): the generated token
/// ids (a final stop id included), the finish reason and the prompt's token count.</summary>
public sealed record LocalGeneration(IReadOnlyList<int> TokenIds, string FinishReason, int PromptTokens);
