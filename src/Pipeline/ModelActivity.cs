namespace Distil.Pipeline;

/// <summary>A served model's figures so far, for live progress: its concurrency now and what its requests did.</summary>
/// <param name="ConcurrencyLimit">Requests the model may have in flight now (the adaptive limit).</param>
/// <param name="Succeeded">Requests answered, over the run.</param>
/// <param name="Failed">Requests that failed (refused, dropped, timed out; each attempt counts), over the run.</param>
/// <param name="OutputTokens">Output tokens the answers reported, over the run.</param>
public sealed record ModelActivity(int ConcurrencyLimit, int InFlight, long Succeeded, long Failed, long OutputTokens)
{
    /// <summary>Failed attempts as a share of all attempts (0 before any).</summary>
    public double ErrorRate => Succeeded + Failed == 0 ? 0 : (double)Failed / (Succeeded + Failed);
}

/// <summary>A chat client (or a layer of one) that can say how its model is doing; found with <c>GetService</c>.</summary>
public interface IModelActivity
{
    ModelActivity Activity();
}
