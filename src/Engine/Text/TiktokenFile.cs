using System.Buffers.Text;
using System.IO.Compression;
using System.Reflection;
using Distil.Engine.Text.Tokenizers;

namespace Distil.Engine.Text;

/// <summary>The tiktoken text format: one "base64-token rank" pair per line.</summary>
internal static class TiktokenFile
{
    /// <summary>Whether the file's first line has the tiktoken shape (a SentencePiece protobuf does not).</summary>
    public static bool LooksLikeTiktoken(string file)
    {
        using var reader = new StreamReader(file);
        var buffer = new char[512];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        var text = buffer.AsSpan(0, read);
        var end = text.IndexOf('\n');
        var line = (end < 0 ? text : text[..end]).TrimEnd('\r');
        var space = line.IndexOf(' ');
        return space > 0
            && Base64.IsValid(line[..space])
            && int.TryParse(line[(space + 1)..], out _);
    }

    /// <summary>Token bytes indexed by rank; the ranks must be 0..n-1 without gaps.</summary>
    public static IReadOnlyList<byte[]> ReadRanks(string file)
    {
        using var stream = File.OpenRead(file);
        return ReadRanks(stream, file);
    }

    public static IReadOnlyList<byte[]> ReadRanks(Stream stream, string file)
    {
        var tokens = new List<byte[]>();
        using var reader = new StreamReader(stream);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            // Microsoft.ML.Tokenizers' packaged data starts with a "Capacity: n" sizing hint.
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("Capacity:", StringComparison.Ordinal)))
            {
                continue;
            }
            // Packaged data leaves the rank implicit (the line order); tiktoken files state it after a space.
            var space = line.IndexOf(' ');
            var rank = tokens.Count;
            if (space == 0 || (space > 0 && !int.TryParse(line.AsSpan(space + 1), out rank)))
            {
                throw new TokenizerFormatException(file, $"line {lineNumber} is not \"base64-token rank\"");
            }
            if (rank != tokens.Count)
            {
                throw new TokenizerFormatException(file, $"line {lineNumber} has rank {rank}, expected {tokens.Count} (ranks must be contiguous from 0)");
            }
            try
            {
                tokens.Add(Convert.FromBase64String(space < 0 ? line : line[..space]));
            }
            catch (FormatException)
            {
                throw new TokenizerFormatException(file, $"line {lineNumber} has an invalid base64 token");
            }
        }
        if (tokens.Count == 0)
        {
            throw new TokenizerFormatException(file, "no tokens");
        }
        return tokens;
    }

    /// <summary>The cl100k_base ranks shipped in the Microsoft.ML.Tokenizers.Data.Cl100kBase package.</summary>
    public static Stream OpenCl100kBase()
    {
        const string assemblyName = "Microsoft.ML.Tokenizers.Data.Cl100kBase";
        const string resource = "cl100k_base.tiktoken.deflate";
        var assembly = Assembly.Load(new AssemblyName(assemblyName));
        var compressed = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{assemblyName} has no resource {resource}");
        return new DeflateStream(compressed, CompressionMode.Decompress);
    }
}
