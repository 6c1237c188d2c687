namespace Distil.Engine.Building;

/// <summary>The tokenizer files of a preset model (Llama 3 style special tokens).</summary>
internal static class PresetTokenizer
{
    public sealed record Ids(int? BosTokenId, IReadOnlyList<int> EosTokenIds);

    // TEMPORARY until engine-text's tokenizer writer is merged.
    public static Ids Write(string folder)
    {
        Directory.CreateDirectory(folder);
        return new Ids(128000, [128001, 128008, 128009]);
    }
}
