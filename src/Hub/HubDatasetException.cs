namespace Distil.Hub;

/// <summary>
/// A Hub dataset cannot be read as asked (unknown repository, revision, config or split, a private repository
/// without a token). <see cref="Field"/> names what the user should change, so a loader can point at it.
/// </summary>
public sealed class HubDatasetException(string field, string message) : Exception(message)
{
    /// <summary>repo, revision, config, split or token_env.</summary>
    public string Field { get; } = field;
}
