using System.Text;

namespace Distil.Engine.Text.Tokenizers;

/// <summary>
/// A tokenizer.json <c>decoder</c>. <see cref="DecodeChain"/> turns token strings into text exactly as Hugging Face
/// tokenizers does (used by <c>Decode</c>); <see cref="TokenBytes"/> gives the raw bytes one token contributes in the
/// middle of a sequence (used for streaming and constrained decoding), leaving out what only happens at the start
/// of a sequence (Metaspace dropping the first space, a Strip after Fuse).
/// </summary>
internal abstract class TokenDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    /// <summary>Rewrites one token's bytes; <paramref name="fused"/> says whether an earlier step has joined the tokens into one.</summary>
    public abstract byte[] TokenBytes(byte[] token, bool fused);

    /// <summary>Whether this step joins all tokens into one string (ByteLevel, Fuse).</summary>
    public virtual bool Fuses => false;

    /// <summary>How many leading spaces the decoder removes from the start of a sequence.</summary>
    public virtual int LeadingSpacesRemoved(bool fused) => 0;

    public static TokenDecoder? Parse(JsonComponent component)
    {
        if (component.Element.ValueKind is System.Text.Json.JsonValueKind.Null or System.Text.Json.JsonValueKind.Undefined)
        {
            return null;
        }
        return component.Type switch
        {
            "ByteLevel" => new ByteLevel(),
            "ByteFallback" => new ByteFallback(),
            "Fuse" => new Fuse(),
            "Strip" => new Strip(Char(component, "content"), component.Int("start", 0), component.Int("stop", 0)),
            "Replace" => new Replace(SplitPattern.Parse(component.Child("pattern")), component.String("content")),
            "Metaspace" => new Metaspace(component.String("replacement", "\u2581"),
                (component.OptionalString("prepend_scheme") ?? (component.Bool("add_prefix_space", true) ? "always" : "never")) != "never"),
            "Sequence" => new Sequence(component.Items("decoders").Select(Parse).OfType<TokenDecoder>().ToArray()),
            _ => throw component.Unsupported("decoder"),
        };
    }

    private static string Char(JsonComponent component, string name)
    {
        var text = component.String(name);
        return text.EnumerateRunes().Count() == 1 ? text : throw component.Child(name).Fail("must be one character");
    }

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>Byte-level stand-ins back to bytes; a token with characters outside the alphabet stays its UTF-8 text.</summary>
    private sealed class ByteLevel : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (var token in tokens)
            {
                bytes.AddRange(ByteLevelAlphabet.Decode(token) ?? Encoding.UTF8.GetBytes(token));
            }
            return [Encoding.UTF8.GetString(bytes.ToArray())];
        }

        public override byte[] TokenBytes(byte[] token, bool fused) => ByteLevelAlphabet.Decode(Text(token)) ?? token;

        public override bool Fuses => true;
    }

    /// <summary><c>&lt;0xXX&gt;</c> tokens back to bytes; a run that is not valid UTF-8 gives one U+FFFD per byte.</summary>
    private sealed class ByteFallback : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var result = new List<string>(tokens.Count);
            var run = new List<byte>();
            foreach (var token in tokens)
            {
                if (ParseByte(token) is { } b)
                {
                    run.Add(b);
                    continue;
                }
                Flush();
                result.Add(token);
            }
            Flush();
            return result;

            void Flush()
            {
                if (run.Count == 0)
                {
                    return;
                }
                try
                {
                    result.Add(new UTF8Encoding(false, true).GetString(run.ToArray()));
                }
                catch (DecoderFallbackException)
                {
                    result.AddRange(Enumerable.Repeat("\uFFFD", run.Count));
                }
                run.Clear();
            }
        }

        public override byte[] TokenBytes(byte[] token, bool fused) =>
            token.Length == 6 && ParseByte(Text(token)) is { } b ? [b] : token;

        private static byte? ParseByte(string token) =>
            token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var b)
                ? b
                : null;
    }

    private sealed class Fuse : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];

        public override byte[] TokenBytes(byte[] token, bool fused) => token;

        public override bool Fuses => true;
    }

    /// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of one character from each token.</summary>
    private sealed class Strip(string content, int start, int stop) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(StripOne).ToList();

        private string StripOne(string token)
        {
            var begin = 0;
            for (var i = 0; i < start && token.AsSpan(begin).StartsWith(content, StringComparison.Ordinal); i++)
            {
                begin += content.Length;
            }
            var end = token.Length;
            for (var i = 0; i < stop && end - content.Length >= begin && token.AsSpan(begin, end - begin).EndsWith(content, StringComparison.Ordinal); i++)
            {
                end -= content.Length;
            }
            return token[begin..end];
        }

        // Once tokens are fused the strip only touches the ends of the whole text, not each token.
        public override byte[] TokenBytes(byte[] token, bool fused) => fused ? token : Encoding.UTF8.GetBytes(StripOne(Text(token)));

        public override int LeadingSpacesRemoved(bool fused) => fused && content == " " ? start : 0;
    }

    private sealed class Replace(SplitPattern pattern, string content) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(ReplaceOne).ToList();

        private string ReplaceOne(string token)
        {
            var builder = new StringBuilder(token.Length);
            var previous = 0;
            foreach (var (start, end) in pattern.Matches(token))
            {
                builder.Append(token, previous, start - previous).Append(content);
                previous = end;
            }
            return builder.Append(token, previous, token.Length - previous).ToString();
        }

        public override byte[] TokenBytes(byte[] token, bool fused) => Encoding.UTF8.GetBytes(ReplaceOne(Text(token)));
    }

    /// <summary>The replacement (▁) back to spaces; the first token loses it when the pre-tokenizer added one.</summary>
    private sealed class Metaspace(string replacement, bool prepends) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) =>
            tokens.Select((token, i) => token.Replace(replacement, i == 0 && prepends ? "" : " ", StringComparison.Ordinal)).ToList();

        public override byte[] TokenBytes(byte[] token, bool fused) => Encoding.UTF8.GetBytes(Text(token).Replace(replacement, " ", StringComparison.Ordinal));

        public override int LeadingSpacesRemoved(bool fused) => prepends ? 1 : 0;
    }

    private sealed class Sequence(TokenDecoder[] steps) : TokenDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            foreach (var step in steps)
            {
                tokens = step.DecodeChain(tokens);
            }
            return tokens;
        }

        public override bool Fuses => steps.Any(s => s.Fuses);

        public override byte[] TokenBytes(byte[] token, bool fused)
        {
            foreach (var step in steps)
            {
                token = step.TokenBytes(token, fused);
                fused |= step.Fuses;
            }
            return token;
        }

        public override int LeadingSpacesRemoved(bool fused)
        {
            var removed = 0;
            foreach (var step in steps)
            {
                removed += step.LeadingSpacesRemoved(fused);
                fused |= step.Fuses;
            }
            return removed;
        }
    }
}
