namespace Distil.Hub;

/// <summary>
/// A Hugging Face access token and where it came from. <see cref="ToString"/> names the source only,
/// so that a token that ends up in a log line or an interpolated message is never revealed.
/// </summary>
public sealed class HubToken
{
    public HubToken(string value, string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        var trimmed = value.Trim();

        // Checked here because an HTTP header that rejects the value would quote it in its exception.
        if (trimmed.Any(c => c is <= ' ' or > '~'))
        {
            throw new HubPublishException($"the token from {source} contains characters a token cannot have (spaces, control or non-ASCII characters)");
        }

        Value = trimmed;
        Source = source;
    }

    /// <summary>The secret. Only <see cref="HubClient"/> reads it, to build the Authorization header.</summary>
    internal string Value { get; }

    /// <summary>Where the token came from, e.g. "the environment variable HF_TOKEN" or "the file /root/.cache/huggingface/token".</summary>
    public string Source { get; }

    public override string ToString() => $"token from {Source}";

    /// <summary>
    /// Finds the token the way the Hugging Face tools do: <c>HF_TOKEN</c>, else the file named by
    /// <c>HF_TOKEN_PATH</c>, else <c>$HF_HOME/token</c> (HF_HOME defaults to <c>~/.cache/huggingface</c>).
    /// Returns null when none is set.
    /// </summary>
    public static HubToken? Resolve(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("HF_TOKEN") is { } fromEnv && !string.IsNullOrWhiteSpace(fromEnv))
        {
            return new HubToken(fromEnv, "the environment variable HF_TOKEN");
        }

        var path = environment("HF_TOKEN_PATH") is { Length: > 0 } explicitPath
            ? explicitPath
            : Path.Combine(HubHome(environment), "token");
        if (!File.Exists(path))
        {
            return null;
        }

        var text = File.ReadAllText(path).Trim();
        return text.Length == 0 ? null : new HubToken(text, $"the file {path}");
    }

    private static string HubHome(Func<string, string?> environment)
    {
        if (environment("HF_HOME") is { Length: > 0 } home)
        {
            return home;
        }

        var cache = environment("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "huggingface");
    }
}
