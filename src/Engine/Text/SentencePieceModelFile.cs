using System.Text;
using System.Text.Json;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>
/// A SentencePiece <c>tokenizer.model</c> (the ModelProto protobuf of Llama 2, Mistral 7B v0.1) turned into the
/// tokenizer.json Hugging Face's LlamaConverter makes of it, so that Distil's own BPE pipeline reads it: the pieces
/// in order are the vocabulary, the merges are every split of a piece into two pieces of the vocabulary, ordered by
/// the merged piece's score (highest first; equal scores keep piece order, then the ids of left and right), the
/// normalizer prepends "▁" and writes spaces as "▁", and the decoder undoes both.
/// Field numbers are those of sentencepiece_model.proto.
/// </summary>
internal static class SentencePieceModelFile
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4;
    private const int ModelTypeBpe = 2;

    private sealed record Piece(string Text, float Score, int Type);

    /// <summary>The tokenizer.json bytes, or null when the model is not of BPE type (unigram, word, char).</summary>
    public static byte[]? ToTokenizerJson(string file, TokenizerConfig config)
    {
        var pieces = new List<Piece>();
        var modelType = 1; // sentencepiece_model.proto's default: UNIGRAM
        var byteFallback = false;
        var addDummyPrefix = true;
        try
        {
            var data = File.ReadAllBytes(file);
            foreach (var (field, value, bytes) in Fields(data))
            {
                switch (field)
                {
                    case 1:
                        pieces.Add(ReadPiece(data.AsSpan(bytes.Start, bytes.Length)));
                        break;
                    case 2:
                        foreach (var (f, v, _) in Fields(data.AsSpan(bytes.Start, bytes.Length).ToArray()))
                        {
                            if (f == 3) modelType = (int)v;
                            else if (f == 35) byteFallback = v != 0;
                        }
                        break;
                    case 3:
                        foreach (var (f, v, _) in Fields(data.AsSpan(bytes.Start, bytes.Length).ToArray()))
                        {
                            if (f == 3) addDummyPrefix = v != 0;
                        }
                        break;
                }
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or DecoderFallbackException)
        {
            throw new TokenizerFormatException(file, $"not a SentencePiece model protobuf: {e.Message}", e);
        }
        if (pieces.Count == 0)
        {
            throw new TokenizerFormatException(file, "a SentencePiece model protobuf without pieces");
        }
        return modelType == ModelTypeBpe ? Write(pieces, byteFallback, addDummyPrefix, config) : null;
    }

    private static byte[] Write(List<Piece> pieces, bool byteFallback, bool addDummyPrefix, TokenizerConfig config)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < pieces.Count; id++)
        {
            ids[pieces[id].Text] = id;
        }
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("added_tokens");
            for (var id = 0; id < pieces.Count; id++)
            {
                if (pieces[id].Type is Unknown or Control or UserDefined)
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", id);
                    json.WriteString("content", pieces[id].Text);
                    json.WriteBoolean("special", pieces[id].Type != UserDefined);
                    json.WriteBoolean("normalized", false);
                    json.WriteEndObject();
                }
            }
            json.WriteEndArray();

            json.WriteStartObject("normalizer");
            json.WriteString("type", "Sequence");
            json.WriteStartArray("normalizers");
            if (addDummyPrefix)
            {
                json.WriteStartObject();
                json.WriteString("type", "Prepend");
                json.WriteString("prepend", "\u2581");
                json.WriteEndObject();
            }
            WriteReplace(json, " ", "\u2581");
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("post_processor");
            json.WriteString("type", "TemplateProcessing");
            json.WriteStartArray("single");
            var bos = config.AddBosToken != false ? SpecialPiece(pieces, ids, config.BosToken ?? "<s>") : null;
            var eos = config.AddEosToken == true ? SpecialPiece(pieces, ids, config.EosToken ?? "</s>") : null;
            WriteTemplateSpecial(json, bos);
            json.WriteStartObject();
            json.WriteStartObject("Sequence");
            json.WriteString("id", "A");
            json.WriteEndObject();
            json.WriteEndObject();
            WriteTemplateSpecial(json, eos);
            json.WriteEndArray();
            json.WriteStartObject("special_tokens");
            foreach (var name in new[] { bos, eos }.Where(n => n is not null).Distinct())
            {
                json.WriteStartObject(name!);
                json.WriteStartArray("ids");
                json.WriteNumberValue(ids[name!]);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();

            json.WriteStartObject("decoder");
            json.WriteString("type", "Sequence");
            json.WriteStartArray("decoders");
            WriteReplace(json, "\u2581", " ");
            json.WriteStartObject();
            json.WriteString("type", "ByteFallback");
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "Fuse");
            json.WriteEndObject();
            if (addDummyPrefix)
            {
                json.WriteStartObject();
                json.WriteString("type", "Strip");
                json.WriteString("content", " ");
                json.WriteNumber("start", 1);
                json.WriteNumber("stop", 0);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            if (pieces.FindIndex(p => p.Type == Unknown) is var unk and >= 0)
            {
                json.WriteString("unk_token", pieces[unk].Text);
            }
            json.WriteBoolean("fuse_unk", true);
            json.WriteBoolean("byte_fallback", byteFallback);
            json.WriteStartObject("vocab");
            foreach (var (text, id) in ids.OrderBy(p => p.Value))
            {
                json.WriteNumber(text, id);
            }
            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach (var (left, right) in Merges(pieces, ids))
            {
                json.WriteStartArray();
                json.WriteStringValue(left);
                json.WriteStringValue(right);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    // LlamaConverter's merges: per piece, its splits ordered by (left id, right id); then a stable sort by the
    // piece's score, highest first, so equal scores keep the vocabulary order.
    private static IEnumerable<(string Left, string Right)> Merges(List<Piece> pieces, Dictionary<string, int> ids)
    {
        var merges = new List<(string Left, string Right, float Score)>();
        var local = new List<(string Left, string Right, int LeftId, int RightId)>();
        foreach (var (text, id) in ids.OrderBy(p => p.Value))
        {
            local.Clear();
            for (var split = 1; split < text.Length; split++)
            {
                if (ids.TryGetValue(text[..split], out var left) && ids.TryGetValue(text[split..], out var right))
                {
                    local.Add((text[..split], text[split..], left, right));
                }
            }
            merges.AddRange(local.OrderBy(m => m.LeftId).ThenBy(m => m.RightId).Select(m => (m.Left, m.Right, pieces[id].Score)));
        }
        return merges.OrderByDescending(m => m.Score).Select(m => (m.Left, m.Right));
    }

    private static string? SpecialPiece(List<Piece> pieces, Dictionary<string, int> ids, string name) =>
        ids.TryGetValue(name, out var id) && pieces[id].Type != Normal ? name : null;

    private static void WriteTemplateSpecial(Utf8JsonWriter json, string? name)
    {
        if (name is null)
        {
            return;
        }
        json.WriteStartObject();
        json.WriteStartObject("SpecialToken");
        json.WriteString("id", name);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter json, string pattern, string content)
    {
        json.WriteStartObject();
        json.WriteString("type", "Replace");
        json.WriteStartObject("pattern");
        json.WriteString("String", pattern);
        json.WriteEndObject();
        json.WriteString("content", content);
        json.WriteEndObject();
    }

    private static Piece ReadPiece(ReadOnlySpan<byte> message)
    {
        string? text = null;
        float score = 0;
        var type = Normal;
        foreach (var (field, value, bytes) in Fields(message.ToArray()))
        {
            switch (field)
            {
                case 1:
                    text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(message.Slice(bytes.Start, bytes.Length));
                    break;
                case 2:
                    score = BitConverter.Int32BitsToSingle((int)value);
                    break;
                case 3:
                    type = (int)value;
                    break;
            }
        }
        return new Piece(text ?? throw new FormatException("a piece without text"), score, type);
    }

    // The top-level fields of a protobuf message: varint and fixed values in Value, length-delimited ones as a range.
    private static IEnumerable<(int Field, ulong Value, (int Start, int Length) Bytes)> Fields(byte[] data)
    {
        var at = 0;
        while (at < data.Length)
        {
            var tag = Varint(data, ref at);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    yield return (field, Varint(data, ref at), default);
                    break;
                case 1:
                    Need(data, at, 8);
                    yield return (field, BitConverter.ToUInt64(data, at), default);
                    at += 8;
                    break;
                case 2:
                    var length = Varint(data, ref at);
                    Need(data, at, length);
                    yield return (field, 0, (at, (int)length));
                    at += (int)length;
                    break;
                case 5:
                    Need(data, at, 4);
                    yield return (field, BitConverter.ToUInt32(data, at), default);
                    at += 4;
                    break;
                default:
                    throw new FormatException($"unsupported protobuf wire type {tag & 7} at byte {at}");
            }
        }
    }

    private static void Need(byte[] data, int at, ulong length)
    {
        if (length > (ulong)(data.Length - at))
        {
            throw new FormatException($"a field at byte {at} runs past the end of the file");
        }
    }

    private static ulong Varint(byte[] data, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            Need(data, at, 1);
            var b = data[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new FormatException($"a varint longer than 10 bytes before byte {at}");
    }
}
