using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// The word n-grams of an evaluation set, as 64-bit hashes: what decontaminate looks for in each row. An eval text
/// shorter than n words is kept whole (a row containing all of it, word for word, matches), so short eval items
/// are not silently ignored. Memory grows with the eval set, never with the dataset.
/// </summary>
internal sealed class EvalNGrams
{
    private readonly HashSet<ulong> _grams = [];
    private readonly SortedSet<int> _widths = [];

    private EvalNGrams(int n) => N = n;

    public int N { get; }

    /// <summary>Eval texts read (rows of the file with a non-empty value).</summary>
    public long Texts { get; private set; }

    /// <summary>Whether <paramref name="units"/> (a row's word hashes) contains any eval n-gram, or any short eval text whole.</summary>
    public bool Overlaps(IReadOnlyList<ulong> units)
    {
        foreach (var width in _widths)
        {
            for (var start = 0; start + width <= units.Count; start++)
            {
                if (_grams.Contains(Shingler.Window(units, start, width)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Reads column <paramref name="column"/> of a JSONL (one object a line) or Parquet file.</summary>
    public static async Task<EvalNGrams> LoadAsync(string path, string column, Shingler words, CancellationToken cancellationToken)
    {
        var grams = new EvalNGrams(words.N);
        if (Decontaminate.IsParquet(path))
        {
            var fields = await ParquetRows.ReadFieldsAsync(path, cancellationToken).ConfigureAwait(false);
            if (!fields.Contains(column))
            {
                throw new InvalidDataException($"{path}: no column '{column}' (eval_column); it has: {string.Join(", ", fields)}");
            }

            var layout = await ParquetRows.ReadLayoutAsync(path, [column], "decontaminate", cancellationToken).ConfigureAwait(false);
            await foreach (var row in ParquetRows.ReadAsync(path, layout, 0, 0, cancellationToken).ConfigureAwait(false))
            {
                grams.Add(row[column] switch
                {
                    null => null,
                    string s => s,
                    var other => throw new InvalidDataException($"{path}: row {row.Id}: column '{column}' holds {other.GetType().Name}, not text"),
                }, words);
            }
        }
        else
        {
            await foreach (var line in JsonlLines.ReadAsync(path, DefinitionLimits.DefaultMaxLineBytes, cancellationToken).ConfigureAwait(false))
            {
                grams.Add(TextOf(path, line, column), words);
            }
        }

        return grams.Texts > 0 ? grams : throw new InvalidDataException($"{path}: no eval text in column '{column}'; check 'eval_file' and 'eval_column'");
    }

    private static string? TextOf(string path, JsonlLine line, string column)
    {
        if (line.Text is null)
        {
            throw new InvalidDataException($"{path}:{line.Number}: {line.Problem}");
        }

        if (string.IsNullOrWhiteSpace(line.Text))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(line.Text);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(column, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : throw new InvalidDataException($"{path}:{line.Number}: expected an object with a string '{column}' (eval_column)");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{line.Number}: not JSON ({e.Message})", e);
        }
    }

    private void Add(string? text, Shingler words)
    {
        var units = words.Units(text);
        if (units.Count == 0)
        {
            return;
        }

        Texts++;
        var width = Math.Min(N, units.Count);
        _widths.Add(width);
        for (var start = 0; start + width <= units.Count; start++)
        {
            _grams.Add(Shingler.Window(units, start, width));
        }
    }
}
