using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
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

    /// <summary>The GPT-2 pre-tokenizer, the default of byte-level BPE tokenizer.json files.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly string[] EndOfSequenceNames =
        ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>"];

    private readonly Tokenizer _textTokenizer;
    private readonly byte[][] _tokenBytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _addedTokens;
    private readonly Regex? _addedTokenSplitter;

    private ModelTokenizer(string sourceFile, Tokenizer textTokenizer, byte[][] tokenBytes, Dictionary<string, int> addedTokens,
        HashSet<int> specialIds, int? beginOfText, IReadOnlyList<int> endOfSequence)
    {
        SourceFile = sourceFile;
        _textTokenizer = textTokenizer;
        _tokenBytes = tokenBytes;
        _addedTokens = addedTokens;
        _special = new bool[tokenBytes.Length];
        foreach (var id in specialIds)
        {
            _special[id] = true;
        }
        BeginOfTextId = beginOfText;
        EndOfSequenceIds = endOfSequence;
        if (addedTokens.Count > 0)
        {
            // Longest first so that a token that is a prefix of another never wins the alternation.
            var alternatives = addedTokens.Keys.OrderByDescending(k => k.Length).Select(Regex.Escape);
            _addedTokenSplitter = new Regex(string.Join('|', alternatives), RegexOptions.CultureInvariant);
        }
    }

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
            throw new TokenizerFormatException(tiktoken, "not a tiktoken file (base64 token and rank on each line); SentencePiece models are not supported, provide tokenizer.json");
        }
        throw new TokenizerFormatException(modelDirectory, "no tokenizer.model (tiktoken) or tokenizer.json in the model folder");
    }

    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="parseSpecialTokens"/>, special token texts become their ids.</summary>
    public int[] Encode(string text, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!parseSpecialTokens || _addedTokenSplitter is null)
        {
            return EncodeOrdinary(text).ToArray();
        }
        var ids = new List<int>();
        var start = 0;
        foreach (var match in _addedTokenSplitter.EnumerateMatches(text))
        {
            if (match.Index > start)
            {
                ids.AddRange(EncodeOrdinary(text.AsSpan(start, match.Index - start)));
            }
            ids.Add(_addedTokens[text.Substring(match.Index, match.Length)]);
            start = match.Index + match.Length;
        }
        if (start < text.Length)
        {
            ids.AddRange(EncodeOrdinary(text.AsSpan(start)));
        }
        return ids.ToArray();
    }

    private IReadOnlyList<int> EncodeOrdinary(ReadOnlySpan<char> text) =>
        text.IsEmpty ? [] : _textTokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true);

    /// <summary>The text of <paramref name="ids"/>; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
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
            return Encoding.UTF8.GetString(buffer, 0, length);
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
        var baseCount = ranks.Count;
        var size = Math.Max(baseCount, config.AddedTokens.Count == 0 ? 0 : config.AddedTokens.Max(t => t.Id) + 1);
        var bytes = new byte[size][];
        Array.Fill(bytes, []);
        for (var id = 0; id < ranks.Count; id++)
        {
            bytes[id] = ranks[id];
        }
        foreach (var added in config.AddedTokens)
        {
            if (added.Id < baseCount && bytes[added.Id].Length > 0)
            {
                throw new TokenizerFormatException(config.File!, $"added token {added.Content} has id {added.Id}, which the base vocabulary of {file} already uses");
            }
        }
        return Assemble(modelDirectory, file, tokenizer, bytes, config.AddedTokens, config);
    }

    private static ModelTokenizer LoadTokenizerJson(string modelDirectory, string file)
    {
        var parsed = TokenizerJsonFile.Read(file);
        var config = TokenizerConfig.Read(modelDirectory);
        var options = new BpeOptions(parsed.Vocabulary)
        {
            Merges = parsed.Merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(parsed.PreTokenizerPattern ?? Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), null),
        };
        Tokenizer tokenizer;
        try
        {
            tokenizer = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            throw new TokenizerFormatException(file, $"cannot build the BPE model: {e.Message}", e);
        }
        var size = Math.Max(parsed.Vocabulary.Max(p => p.Value) + 1, parsed.AddedTokens.Count == 0 ? 0 : parsed.AddedTokens.Max(t => t.Id) + 1);
        var bytes = new byte[size][];
        Array.Fill(bytes, []);
        foreach (var (token, id) in parsed.Vocabulary)
        {
            bytes[id] = ByteLevelAlphabet.Decode(token)
                ?? throw new TokenizerFormatException(file, $"vocabulary entry \"{token}\" (id {id}) is not in the byte-level alphabet");
        }
        var added = parsed.AddedTokens.Concat(config.AddedTokens.Where(t => parsed.AddedTokens.All(p => p.Id != t.Id))).ToList();
        return Assemble(modelDirectory, file, tokenizer, bytes, added, config);
    }

    private static ModelTokenizer Assemble(string modelDirectory, string file, Tokenizer tokenizer, byte[][] bytes,
        IReadOnlyList<AddedToken> addedTokens, TokenizerConfig config)
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
        return new ModelTokenizer(file, tokenizer, bytes, addedIds, special, bos, eos.ToArray());
    }

    [GeneratedRegex(Llama3Pattern, RegexOptions.CultureInvariant)]
    internal static partial Regex Llama3Regex();

    internal sealed record AddedToken(int Id, string Content, bool Special);
}
