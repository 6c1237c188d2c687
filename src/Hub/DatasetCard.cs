using System.Text.RegularExpressions;

namespace Distil.Hub;

/// <summary>
/// A dataset card (the repository's README.md): YAML front matter the Hub reads, then markdown. The one card
/// model: a run's card is built as one (its summary in <see cref="Body"/>), and publishing parses the card it
/// finds and sets its <see cref="CardFrontMatter.Configs"/>, leaving the rest as it was.
/// </summary>
public sealed partial class DatasetCard
{
    public CardFrontMatter FrontMatter { get; init; } = new();

    /// <summary>The markdown after the front matter's closing <c>---</c> line, as written (a leading blank line included).</summary>
    public string Body { get; set; } = "";

    /// <summary>
    /// Reads a card. Text without front matter becomes the body of a card with empty front matter, after a blank
    /// line so that the front matter <see cref="Render"/> adds stands apart from it.
    /// </summary>
    /// <exception cref="FormatException">The front matter has no closing <c>---</c> line.</exception>
    public static DatasetCard Parse(string text)
    {
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        var match = FrontMatterBlock().Match(text);
        if (match.Success)
        {
            return new DatasetCard { FrontMatter = CardFrontMatter.Parse(match.Groups["yaml"].Value), Body = text[match.Length..] };
        }

        if (OpeningLine().IsMatch(text))
        {
            throw new FormatException("line 1: the card's front matter opens with --- but no line closes it");
        }

        return new DatasetCard { Body = "\n" + text };
    }

    public string Render() => "---\n" + FrontMatter.Render() + "---\n" + Body;

    [GeneratedRegex(@"\A---[ \t]*\n(?<yaml>(?:.*\n)*?)---[ \t]*(?:\n|\z)")]
    private static partial Regex FrontMatterBlock();

    [GeneratedRegex(@"\A---[ \t]*\n")]
    private static partial Regex OpeningLine();
}
