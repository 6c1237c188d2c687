using System.Globalization;
using System.Text;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>A tokenizer.json <c>pre_tokenizer</c>: splits (and for ByteLevel and Metaspace, rewrites) pieces into words for the model.</summary>
internal abstract class PreTokenizerStep
{
    /// <summary>The GPT-2 split, used by ByteLevel when <c>use_regex</c> is set.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public abstract void Apply(Piece piece, List<Piece> output);

    public static PreTokenizerStep? Parse(JsonComponent component)
    {
        if (component.Element.ValueKind is System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined)
        {
            return null;
        }
        return component.Type switch
        {
            "ByteLevel" => new ByteLevel(component.Bool("add_prefix_space", true), component.Bool("use_regex", true), component),
            "Split" => new Split(SplitPattern.Parse(component.Child("pattern")),
                SplitPattern.ParseBehavior(component, "behavior", SplitBehavior.Isolated), component.Bool("invert", false)),
            "Metaspace" => new Metaspace(component),
            "Digits" => new Split(new CharClassPattern(IsNumeric), component.Bool("individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous, false),
            "Punctuation" => new Split(new CharClassPattern(IsPunctuation), SplitPattern.ParseBehavior(component, "behavior", SplitBehavior.Isolated), false),
            // \w as Oniguruma has it: letters, marks, decimal digits, connector punctuation.
            "Whitespace" => new Split(new CodePointRegex(@"[\p{L}\p{M}\p{Nd}\p{Pc}]+|[^\p{L}\p{M}\p{Nd}\p{Pc}\s]+", component), SplitBehavior.Removed, true),
            "WhitespaceSplit" => new Split(new CharClassPattern(IsWhitespace), SplitBehavior.Removed, false),
            "Sequence" => new Sequence(component.Items("pretokenizers").Select(Parse).OfType<PreTokenizerStep>().ToArray()),
            _ => throw component.Unsupported("pre-tokenizer"),
        };
    }

    /// <summary>Rust's <c>char::is_numeric</c>: Nd, Nl and No.</summary>
    private static bool IsNumeric(int codePoint) => CharUnicodeInfo.GetUnicodeCategory(codePoint)
        is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary>Hugging Face's <c>is_punctuation</c>: ASCII punctuation or any Unicode P* category.</summary>
    private static bool IsPunctuation(int codePoint) =>
        (codePoint is > 32 and < 127 && !char.IsAsciiLetterOrDigit((char)codePoint))
        || CharUnicodeInfo.GetUnicodeCategory(codePoint) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsWhitespace(int codePoint) => Rune.IsWhiteSpace(new Rune(codePoint));

    private sealed class Split(SplitPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
    {
        public override void Apply(Piece piece, List<Piece> output) => pattern.Split(piece, behavior, invert, output);
    }

    /// <summary>Maps every byte of the UTF-8 text to its printable stand-in (after the GPT-2 split when <c>use_regex</c>).</summary>
    private sealed class ByteLevel(bool addPrefixSpace, bool useRegex, JsonComponent where) : PreTokenizerStep
    {
        private readonly CodePointRegex? _split = useRegex ? new CodePointRegex(Gpt2Pattern, where) : null;

        public override void Apply(Piece piece, List<Piece> output)
        {
            if (addPrefixSpace && !piece.Text.StartsWith(' '))
            {
                piece = piece with { Text = " " + piece.Text };
            }
            if (_split is null)
            {
                output.Add(piece with { Text = Map(piece.Text) });
                return;
            }
            var start = output.Count;
            _split.Split(piece, SplitBehavior.Isolated, false, output);
            for (var i = start; i < output.Count; i++)
            {
                output[i] = output[i] with { Text = Map(output[i].Text) };
            }
        }

        private static string Map(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            return string.Create(bytes.Length, bytes, (span, b) =>
            {
                for (var i = 0; i < b.Length; i++)
                {
                    span[i] = ByteLevelAlphabet.Encode(b[i]);
                }
            });
        }
    }

    /// <summary>SentencePiece-style spaces: ' ' becomes the replacement (▁), a leading one is added, and words split before each.</summary>
    private sealed class Metaspace : PreTokenizerStep
    {
        private readonly string _replacement;
        private readonly string _prependScheme;
        private readonly bool _split;
        private readonly CharClassPattern _splitPattern;

        public Metaspace(JsonComponent component)
        {
            _replacement = component.String("replacement", "\u2581");
            if (_replacement.EnumerateRunes().Count() != 1)
            {
                throw component.Child("replacement").Fail("must be one character");
            }
            // Older files say add_prefix_space instead of prepend_scheme.
            _prependScheme = component.OptionalString("prepend_scheme") ?? (component.Bool("add_prefix_space", true) ? "always" : "never");
            if (_prependScheme is not ("always" or "first" or "never"))
            {
                throw component.Child("prepend_scheme").Fail($"unknown prepend_scheme \"{_prependScheme}\"");
            }
            _split = component.Bool("split", true);
            var replacement = Rune.GetRuneAt(_replacement, 0).Value;
            _splitPattern = new CharClassPattern(c => c == replacement);
        }

        public override void Apply(Piece piece, List<Piece> output)
        {
            var text = piece.Text.Replace(" ", _replacement, StringComparison.Ordinal);
            var prepend = _prependScheme == "always" || (_prependScheme == "first" && piece.AtStart);
            if (prepend && !text.StartsWith(_replacement, StringComparison.Ordinal))
            {
                text = _replacement + text;
            }
            piece = piece with { Text = text };
            if (_split)
            {
                _splitPattern.Split(piece, SplitBehavior.MergedWithNext, false, output);
            }
            else
            {
                output.Add(piece);
            }
        }
    }

    private sealed class Sequence(PreTokenizerStep[] steps) : PreTokenizerStep
    {
        public override void Apply(Piece piece, List<Piece> output)
        {
            var current = new List<Piece> { piece };
            var next = new List<Piece>();
            foreach (var step in steps)
            {
                next.Clear();
                foreach (var p in current)
                {
                    step.Apply(p, next);
                }
                (current, next) = (next, current);
            }
            output.AddRange(current);
        }
    }
}
