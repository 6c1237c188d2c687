using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>A Hub repository name, <c>namespace/name</c> (a user or organization and the repo).</summary>
public sealed partial record HubRepoId(string Namespace, string Name)
{
    public static HubRepoId Parse(string text)
    {
        if (Problem(text) is { } problem)
        {
            throw new ArgumentException(problem);
        }

        var parts = text.Split('/');
        return new HubRepoId(parts[0], parts[1]);
    }

    /// <summary>Why <paramref name="text"/> is not a repository id the Hub accepts, or null. The Hub also refuses "--" and ".." inside a name and a name ending in ".git".</summary>
    public static string? Problem(string text)
    {
        var parts = text.Split('/');
        var valid = parts.Length == 2 && parts.All(p => ValidPart().IsMatch(p) && !p.Contains("--", StringComparison.Ordinal) && !p.Contains("..", StringComparison.Ordinal))
            && !parts[1].EndsWith(".git", StringComparison.OrdinalIgnoreCase);
        var shown = text.Length <= 100 ? text : text[..100] + "…";
        return valid ? null
            : $"'{shown}' is not a Hub repository id: use namespace/name, e.g. my-user/my-dpo-set (letters, digits, '-', '_', '.'; no '--' or '..', not ending in .git)";
    }

    public override string ToString() => $"{Namespace}/{Name}";

    [GeneratedRegex(@"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")]
    private static partial Regex ValidPart();
}
