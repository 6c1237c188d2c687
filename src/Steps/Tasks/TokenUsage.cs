using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>Token counts of a response as the model reported them (zero when it reports none).</summary>
internal static class TokenUsage
{
    public static (long Input, long Output) Of(ChatResponse response) =>
        (response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0);
}
