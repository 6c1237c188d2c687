using System.Text;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>A tokenizer.json <c>normalizer</c>: rewrites each piece of input text between added tokens before it is split.</summary>
internal abstract class TextNormalizer
{
    public abstract string Normalize(string text);

    /// <summary>The normalizer at <paramref name="component"/>, or null for JSON null.</summary>
    public static TextNormalizer? Parse(JsonComponent component)
    {
        if (component.Element.ValueKind is System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined)
        {
            return null;
        }
        return component.Type switch
        {
            "NFC" => new UnicodeForm(NormalizationForm.FormC),
            "NFD" => new UnicodeForm(NormalizationForm.FormD),
            "NFKC" => new UnicodeForm(NormalizationForm.FormKC),
            "NFKD" => new UnicodeForm(NormalizationForm.FormKD),
            "Lowercase" => new Lowercase(),
            "Strip" => new Strip(component.Bool("strip_left", true), component.Bool("strip_right", true)),
            "Prepend" => new Prepend(component.String("prepend")),
            "Replace" => new Replace(SplitPattern.Parse(component.Child("pattern")), component.String("content")),
            "Sequence" => new Sequence(component.Items("normalizers").Select(Parse).OfType<TextNormalizer>().ToArray()),
            _ => throw component.Unsupported("normalizer"),
        };
    }

    private sealed class UnicodeForm(NormalizationForm form) : TextNormalizer
    {
        public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
    }

    /// <summary>Full Unicode lowercase mapping per character, as Rust's <c>str::to_lowercase</c>.</summary>
    private sealed class Lowercase : TextNormalizer
    {
        public override string Normalize(string text)
        {
            var builder = new StringBuilder(text.Length);
            foreach (var rune in text.EnumerateRunes())
            {
                // U+0130 is the one full (multi-character) lowercase mapping outside Greek final sigma context.
                if (rune.Value == 0x130)
                {
                    builder.Append("i\u0307");
                }
                else
                {
                    builder.Append(Rune.ToLowerInvariant(rune).ToString());
                }
            }
            return builder.ToString();
        }
    }

    private sealed class Strip(bool left, bool right) : TextNormalizer
    {
        public override string Normalize(string text) => (left, right) switch
        {
            (true, true) => text.Trim(),
            (true, false) => text.TrimStart(),
            (false, true) => text.TrimEnd(),
            _ => text,
        };
    }

    private sealed class Prepend(string prefix) : TextNormalizer
    {
        public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    private sealed class Replace(SplitPattern pattern, string content) : TextNormalizer
    {
        public override string Normalize(string text)
        {
            if (pattern is LiteralPattern literal)
            {
                return literal.Literal.Length == 0 ? text : text.Replace(literal.Literal, content, StringComparison.Ordinal);
            }
            var builder = new StringBuilder(text.Length);
            var previous = 0;
            foreach (var (start, end) in pattern.Matches(text))
            {
                builder.Append(text, previous, start - previous).Append(content);
                previous = end;
            }
            return builder.Append(text, previous, text.Length - previous).ToString();
        }
    }

    private sealed class Sequence(TextNormalizer[] steps) : TextNormalizer
    {
        public override string Normalize(string text)
        {
            foreach (var step in steps)
            {
                text = step.Normalize(text);
            }
            return text;
        }
    }
}
