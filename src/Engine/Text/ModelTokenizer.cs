using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distil.Engine.Text.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>
/// A model's tokenizer: ordinary text is split by Microsoft.ML.Tokenizers (tiktoken ranks or byte-level BPE),
/// special tokens are matched here, and every id maps to its raw bytes so that decoding, incremental decoding
/// and constrained decoding all agree on what a token means.
/// </summary>
public sealed partial class ModelTokenizer
{
    /// <summary>The Llama 3 pre-tokenizer: contractions, letter runs, 1–3 digit groups, punctuation runs, whitespace.</summary>
    internal const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] EndOfSequenceNames =
        ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>"];

    private readonly TokenizationPipeline _pipeline;
    private readonly byte[][] _tokenBytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _addedTokens;
    private readonly Func<List<int>, string>? _exactDecode;

    private ModelTokenizer(string sourceFile, TokenizationPipeline pipeline, byte[][] tokenBytes, Dictionary<string, int> addedTokens,
        HashSet<int> specialIds, int? beginOfText, IReadOnlyList<int> endOfSequence, Func<List<int>, string>? exactDecode, int leadingSpacesRemoved)
    {
        SourceFile = sourceFile;
        _pipeline = pipeline;
        _tokenBytes = tokenBytes;
        _addedTokens = addedTokens;
        _exactDecode = exactDecode;
        LeadingSpacesRemoved = leadingSpacesRemoved;
        _special = new bool[tokenBytes.Length];
        foreach (var id in specialIds)
        {
            _special[id] = true;
        }
        BeginOfTextId = beginOfText;
        EndOfSequenceIds = endOfSequence;
    }

    /// <summary>Spaces the decoder drops from the very start of a decoded sequence (SentencePiece's added leading space).</summary>
    internal int LeadingSpacesRemoved { get; }

    /// <summary>The file the vocabulary came from (tokenizer.model or tokenizer.json).</summary>
    public string SourceFile { get; }

    /// <summary>Number of ids, special tokens included (the largest id plus one).</summary>
    public int VocabularySize => _tokenBytes.Length;

    /// <summary>The beginning-of-text token (bos_token), when the tokenizer has one.</summary>
    public int? BeginOfTextId { get; }

    /// <summary>Tokens that end a generation: eos_token, generation_config's eos_token_id and the usual end-of-turn tokens present.</summary>
    public IReadOnlyList<int> EndOfSequenceIds { get; }

    /// <summary>
    /// Reads the tokenizer of a model folder: a tiktoken <c>tokenizer.model</c> (Llama 3 layout, special tokens from
    /// <c>tokenizer_config.json</c>'s added_tokens_decoder) or a byte-level BPE <c>tokenizer.json</c>.
    /// </summary>
    /// <exception cref="TokenizerFormatException">No supported tokenizer file, or a malformed one.</exception>
    public static ModelTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
        {
            throw new TokenizerFormatException(modelDirectory, "the model folder does not exist");
        }
        var tiktoken = Path.Combine(modelDirectory, "tokenizer.model");
        var json = Path.Combine(modelDirectory, "tokenizer.json");
        if (File.Exists(tiktoken) && TiktokenFile.LooksLikeTiktoken(tiktoken))
        {
            return LoadTiktoken(modelDirectory, tiktoken);
        }
        if (File.Exists(json))
        {
            return LoadTokenizerJson(modelDirectory, json);
        }
        if (File.Exists(tiktoken))
        {
            return LoadSentencePiece(modelDirectory, tiktoken);
        }
        throw new TokenizerFormatException(modelDirectory, "no tokenizer.model (tiktoken) or tokenizer.json in the model folder");
    }

    /// <summary>
    /// Token ids of <paramref name="text"/>. With <paramref name="parseSpecialTokens"/>, special token texts become
    /// their ids (other added tokens always do); with <paramref name="addSpecialTokens"/>, the tokens the
    /// tokenizer's post-processor puts around a sequence (Llama's BOS) are added, as Hugging Face's
    /// <c>add_special_tokens=True</c>. Chat prompts already carry them in the template's text.
    /// </summary>
    public int[] Encode(string text, bool parseSpecialTokens = true, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _pipeline.Encode(text, parseSpecialTokens, addSpecialTokens);
    }

    /// <summary>The text of <paramref name="ids"/>; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        if (_exactDecode is not null)
        {
            var kept = new List<int>(ids.Length);
            foreach (var id in ids)
            {
                if (Include(id, skipSpecialTokens))
                {
                    kept.Add(id);
                }
            }
            return _exactDecode(kept);
        }
        var length = 0;
        foreach (var id in ids)
        {
            length += Include(id, skipSpecialTokens) ? TokenByteSpan(id).Length : 0;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var at = 0;
            foreach (var id in ids)
            {
                if (Include(id, skipSpecialTokens))
                {
                    var bytes = TokenByteSpan(id);
                    bytes.CopyTo(buffer.AsSpan(at));
                    at += bytes.Length;
                }
            }
            var skip = 0;
            while (skip < LeadingSpacesRemoved && skip < length && buffer[skip] == (byte)' ')
            {
                skip++;
            }
            return Encoding.UTF8.GetString(buffer, skip, length - skip);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool Include(int id, bool skipSpecialTokens) => !(skipSpecialTokens && IsSpecial(id));

    /// <summary>The id of an added/special token given its text (<c>&lt;|eot_id|&gt;</c>), or null when the vocabulary lacks it.</summary>
    public int? TokenId(string specialToken) => _addedTokens.TryGetValue(specialToken, out var id) ? id : null;

    /// <summary>A copy of the raw bytes of a token (a special token's bytes are its UTF-8 text).</summary>
    public byte[] TokenBytes(int id) => TokenByteSpan(id).ToArray();

    /// <summary>The raw bytes of a token without copying; empty for ids the vocabulary leaves unused.</summary>
    public ReadOnlySpan<byte> TokenByteSpan(int id)
    {
        if ((uint)id >= (uint)_tokenBytes.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_tokenBytes.Length}");
        }
        return _tokenBytes[id];
    }

    /// <summary>Whether the id is a special (control) token rather than text.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>A decoder for one generated sequence.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = true) => new(this, skipSpecialTokens);

    private static ModelTokenizer LoadTiktoken(string modelDirectory, string file)
    {
        var ranks = TiktokenFile.ReadRanks(file);
        TiktokenTokenizer tokenizer;
        try
        {
            using var stream = File.OpenRead(file);
            tokenizer = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(Llama3Regex(), null), normalizer: null);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException or IOException)
        {
            throw new TokenizerFormatException(file, $"cannot read the tiktoken vocabulary: {e.Message}", e);
        }
        var config = TokenizerConfig.Read(modelDirectory);
        var bytes = BaseBytes(ranks.Count, config.AddedTokens);
        for (var id = 0; id < ranks.Count; id++)
        {
            bytes[id] = ranks[id];
        }
        RefuseClashes(file, config, ranks.Count, bytes);
        // A tiktoken file has no post-processor; tokenizer_config.json's add_bos_token says whether BOS leads a sequence.
        int[] prefix = config.AddBosToken == true && config.AddedTokens.FirstOrDefault(t => t.Content == config.BosToken) is { } bosToken ? [bosToken.Id] : [];
        var pipeline = new TokenizationPipeline(new AddedVocabulary(config.AddedTokens), null, new MlSegmentEncoder(tokenizer), prefix, []);
        return Assemble(modelDirectory, file, pipeline, bytes, config.AddedTokens, config, exactDecode: null, leadingSpacesRemoved: 0);
    }

    // A SentencePiece model protobuf (Llama 2, Mistral 7B v0.1): BPE-type models as Hugging Face converts them,
    // other types (unigram) by Microsoft.ML.Tokenizers' LlamaTokenizer.
    private static ModelTokenizer LoadSentencePiece(string modelDirectory, string file)
    {
        // A BPE-type model goes through Distil's own BPE as Hugging Face converts it, so score ties break alike.
        if (SentencePieceModelFile.ToTokenizerJson(file, TokenizerConfig.Read(modelDirectory)) is { } json)
        {
            return LoadTokenizerJson(modelDirectory, file, TokenizerJsonFile.Parse(file, json));
        }
        SentencePieceTokenizer tokenizer;
        try
        {
            using var stream = File.OpenRead(file);
            tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TokenizerFormatException(file, $"neither a tiktoken file (base64 token and rank on each line) nor a SentencePiece BPE model that Microsoft.ML.Tokenizers reads: {e.Message}", e);
        }
        var config = TokenizerConfig.Read(modelDirectory);
        var pieces = tokenizer.Vocabulary;
        var bytes = BaseBytes(pieces.Values.Max() + 1, config.AddedTokens);
        foreach (var (piece, id) in pieces)
        {
            bytes[id] = piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var b)
                    ? [b]
                    : Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
        }
        var controls = new List<AddedToken>();
        foreach (var id in new[] { tokenizer.UnknownId, tokenizer.BeginningOfSentenceId, tokenizer.EndOfSentenceId })
        {
            if (id >= 0 && id < bytes.Length && config.AddedTokens.All(t => t.Id != id))
            {
                controls.Add(new AddedToken(id, Encoding.UTF8.GetString(bytes[id]), Special: true));
            }
        }
        var added = config.AddedTokens.Concat(controls).ToList();
        // Llama's tokenizer adds BOS unless tokenizer_config.json says add_bos_token: false.
        int[] prefix = config.AddBosToken != false && tokenizer.BeginningOfSentenceId >= 0 ? [tokenizer.BeginningOfSentenceId] : [];
        int[] suffix = config.AddEosToken == true && tokenizer.EndOfSentenceId >= 0 ? [tokenizer.EndOfSentenceId] : [];
        var pipeline = new TokenizationPipeline(new AddedVocabulary(added), null, new MlSegmentEncoder(tokenizer), prefix, suffix);
        return Assemble(modelDirectory, file, pipeline, bytes, added, config, exactDecode: null, leadingSpacesRemoved: tokenizer.AddDummyPrefix ? 1 : 0);
    }

    private static ModelTokenizer LoadTokenizerJson(string modelDirectory, string file) =>
        LoadTokenizerJson(modelDirectory, file, TokenizerJsonFile.Read(file));

    private static ModelTokenizer LoadTokenizerJson(string modelDirectory, string file, TokenizerJsonFile parsed)
    {
        var config = TokenizerConfig.Read(modelDirectory);
        var added = parsed.AddedTokens.Concat(config.AddedTokens.Where(t => parsed.AddedTokens.All(p => p.Id != t.Id))).ToList();
        var vocabulary = parsed.Model.IdToToken;
        var bytes = BaseBytes(vocabulary.Length, added);
        for (var id = 0; id < vocabulary.Length; id++)
        {
            if (vocabulary[id] is { } token)
            {
                var raw = Encoding.UTF8.GetBytes(token);
                bytes[id] = parsed.Decoder?.TokenBytes(raw, fused: false) ?? raw;
            }
        }
        var pipeline = new TokenizationPipeline(new AddedVocabulary(added), parsed.Normalizer,
            new PreTokenizedBpe(parsed.PreTokenizer, parsed.Model), parsed.SpecialPrefix, parsed.SpecialSuffix);
        var addedById = added.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.Last().Content);
        string ExactDecode(List<int> ids)
        {
            var tokens = new List<string>(ids.Count);
            foreach (var id in ids)
            {
                if (addedById.TryGetValue(id, out var content))
                {
                    tokens.Add(content);
                }
                else if ((uint)id < (uint)vocabulary.Length && vocabulary[id] is { } token)
                {
                    tokens.Add(token);
                }
            }
            // Without a decoder Hugging Face joins the tokens with spaces.
            return parsed.Decoder is { } decoder ? string.Concat(decoder.DecodeChain(tokens)) : string.Join(' ', tokens);
        }
        return Assemble(modelDirectory, file, pipeline, bytes, added, config, ExactDecode, parsed.Decoder?.LeadingSpacesRemoved(fused: false) ?? 0);
    }

    // Token bytes for every id of the base vocabulary and the added tokens; ids left unused stay empty.
    private static byte[][] BaseBytes(int baseCount, IReadOnlyList<AddedToken> added)
    {
        var size = Math.Max(baseCount, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
        var bytes = new byte[size][];
        Array.Fill(bytes, []);
        return bytes;
    }

    private static void RefuseClashes(string file, TokenizerConfig config, int baseCount, byte[][] bytes)
    {
        foreach (var added in config.AddedTokens)
        {
            if (added.Id < baseCount && bytes[added.Id].Length > 0)
            {
                throw new TokenizerFormatException(config.File!, $"added token {added.Content} has id {added.Id}, which the base vocabulary of {file} already uses");
            }
        }
    }

    private static ModelTokenizer Assemble(string modelDirectory, string file, TokenizationPipeline pipeline, byte[][] bytes,
        IReadOnlyList<AddedToken> addedTokens, TokenizerConfig config, Func<List<int>, string>? exactDecode, int leadingSpacesRemoved)
    {
        var addedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new HashSet<int>();
        foreach (var added in addedTokens)
        {
            if (added.Id < 0)
            {
                throw new TokenizerFormatException(config.File ?? file, $"added token {added.Content} has a negative id");
            }
            bytes[added.Id] = Encoding.UTF8.GetBytes(added.Content);
            addedIds[added.Content] = added.Id;
            if (added.Special)
            {
                special.Add(added.Id);
            }
        }
        int? IdOf(string? name) => name is not null && addedIds.TryGetValue(name, out var id) ? id : null;
        var bos = IdOf(config.BosToken) ?? IdOf("<|begin_of_text|>");
        var eos = new SortedSet<int>();
        foreach (var id in new[] { IdOf(config.EosToken) }.Concat(EndOfSequenceNames.Select(IdOf)).Concat(GenerationConfig.EosIds(modelDirectory).Select(i => (int?)i)))
        {
            if (id is { } value && value < bytes.Length)
            {
                eos.Add(value);
            }
        }
        return new ModelTokenizer(file, pipeline, bytes, addedIds, special, bos, eos.ToArray(), exactDecode, leadingSpacesRemoved);
    }

    /// <summary>Text between added tokens, encoded by a Microsoft.ML.Tokenizers tokenizer (tiktoken, SentencePiece).</summary>
    private sealed class MlSegmentEncoder(Tokenizer tokenizer) : ISegmentEncoder
    {
        public void Encode(string segment, bool atStart, List<int> ids) =>
            ids.AddRange(tokenizer is SentencePieceTokenizer sentencePiece
                ? sentencePiece.EncodeToIds(segment, addBeginningOfSentence: false, addEndOfSentence: false)
                : tokenizer.EncodeToIds(segment, considerPreTokenization: true, considerNormalization: true));
    }

    [GeneratedRegex(Llama3Pattern, RegexOptions.CultureInvariant)]
    internal static partial Regex Llama3Regex();
}
