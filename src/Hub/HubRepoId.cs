using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>A Hub repository name, <c>namespace/name</c> (a user or organization and the repo).</summary>
public sealed partial record HubRepoId(string Namespace, string Name)
{
    public static HubRepoId Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !ValidPart().IsMatch(parts[0]) || !ValidPart().IsMatch(parts[1]))
        {
            throw new ArgumentException(
                $"'{text}' is not a Hub repository id: use namespace/name, e.g. my-user/my-dpo-set (letters, digits, '-', '_', '.')");
        }

        return new HubRepoId(parts[0], parts[1]);
    }

    public override string ToString() => $"{Namespace}/{Name}";

    [GeneratedRegex(@"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")]
    private static partial Regex ValidPart();
}
