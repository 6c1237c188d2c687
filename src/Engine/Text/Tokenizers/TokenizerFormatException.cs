namespace Distil.Engine.Text.Tokenizers;

/// <summary>A tokenizer file that is missing, unreadable or in a format the engine does not support.</summary>
public sealed class TokenizerFormatException(string file, string reason, Exception? inner = null)
    : Exception($"{file}: {reason}", inner)
{
    /// <summary>The file (or folder, when no tokenizer file was found) the problem is about.</summary>
    public string File { get; } = file;

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Reason { get; } = reason;

    /// <summary>The JSON path of the offending component inside a tokenizer.json (<c>pre_tokenizer.pretokenizers[1]</c>), when known.</summary>
    public string? JsonPath { get; init; }
}
