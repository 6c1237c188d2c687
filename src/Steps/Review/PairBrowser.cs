using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>One turn of a prompt: who spoke and what they said.</summary>
public sealed record Turn(string Role, string Content);

/// <summary>A preference pair as a person reads it: the prompt's turns, both answers, their ratings, models and rationales.</summary>
public sealed record PairView(
    long Row,
    IReadOnlyList<Turn> Prompt,
    string? Chosen,
    string? Rejected,
    double? ChosenRating,
    double? RejectedRating,
    double? Gap,
    string? ChosenModel,
    string? RejectedModel,
    string? ChosenRationale,
    string? RejectedRationale,
    string? Error,
    string Digest);

/// <summary>Which pairs to show; every set condition must hold.</summary>
/// <param name="MinGap">Smallest chosen − rejected rating gap.</param>
/// <param name="MaxGap">Largest gap.</param>
/// <param name="Ties">true: only pairs rated equal; false: none of them.</param>
/// <param name="Errors">true: only rows that carry an error; false: none of them.</param>
/// <param name="Model">A generator's name: pairs where it wrote the chosen or the rejected answer.</param>
public sealed record PairFilter(double? MinGap = null, double? MaxGap = null, bool? Ties = null, bool? Errors = null, string? Model = null)
{
    public bool Matches(PairView pair)
    {
        if ((MinGap is not null || MaxGap is not null || Ties is not null) && pair.Gap is null)
        {
            return false;
        }

        return (MinGap is not { } min || pair.Gap >= min)
            && (MaxGap is not { } max || pair.Gap <= max)
            && (Ties is not { } ties || (pair.Gap == 0) == ties)
            && (Errors is not { } errors || (pair.Error is not null) == errors)
            && (Model is not { Length: > 0 } model || pair.ChosenModel == model || pair.RejectedModel == model);
    }
}

/// <summary>A page of matching pairs; <see cref="Next"/> is the row to continue from (null: the file is done).</summary>
public sealed record PairPage(IReadOnlyList<PairView> Rows, long? Next, long TotalRows);

/// <summary>
/// Pages through a pair dataset (DPO Parquet) one row group at a time: row groups wholly before the cursor are not
/// read, and a page stops at <see cref="MaxPageSize"/> matches or after <see cref="MaxScannedRows"/> rows read, so
/// neither a large file nor a rare filter makes one request read everything.
/// </summary>
public static class PairBrowser
{
    public const int MaxPageSize = 100;
    public const int MaxScannedRows = 20_000;

    public static async Task<PairPage> PageAsync(string file, PairFilter filter, long after, int limit, CancellationToken cancellationToken)
    {
        limit = Math.Clamp(limit, 1, MaxPageSize);
        var layout = await ParquetRows.ReadLayoutAsync(file, wanted: null, stepName: "review", cancellationToken);
        var rows = new List<PairView>();
        long scanned = 0;
        long? next = null;
        await foreach (var row in ParquetRows.ReadAsync(file, layout, firstId: 0, skipBefore: after, cancellationToken))
        {
            if (row.Id < after)
            {
                continue;
            }

            if (rows.Count == limit || scanned == MaxScannedRows)
            {
                next = row.Id;
                break;
            }

            scanned++;
            var view = View(row);
            if (filter.Matches(view))
            {
                rows.Add(view);
            }
        }

        return new PairPage(rows, next, layout.Rows);
    }

    /// <summary>Whether the file has chosen and rejected columns (read from its footer).</summary>
    public static async Task<bool> HoldsPairsAsync(string file, CancellationToken cancellationToken)
    {
        var fields = await ParquetRows.ReadFieldsAsync(file, cancellationToken);
        return fields.Contains("chosen") && fields.Contains("rejected");
    }

    /// <summary>One row of the file, or null past its end.</summary>
    public static async Task<PairView?> RowAsync(string file, long row, CancellationToken cancellationToken)
    {
        var layout = await ParquetRows.ReadLayoutAsync(file, wanted: null, stepName: "review", cancellationToken);
        if (!layout.Columns.Contains("chosen") || !layout.Columns.Contains("rejected"))
        {
            throw new InvalidDataException($"{file}: has no chosen and rejected columns, so it holds no pairs to review");
        }

        await foreach (var read in ParquetRows.ReadAsync(file, layout, firstId: 0, skipBefore: row, cancellationToken))
        {
            if (read.Id == row)
            {
                return View(read);
            }
        }

        return null;
    }

    internal static PairView View(Row row)
    {
        var chosen = Text(row["chosen"]);
        var rejected = Text(row["rejected"]);
        var chosenRating = Number(row["chosen_rating"]);
        var rejectedRating = Number(row["rejected_rating"]);
        return new PairView(
            row.Id,
            Turns(row["prompt"]),
            chosen,
            rejected,
            chosenRating,
            rejectedRating,
            chosenRating - rejectedRating,
            row["chosen_model"] as string,
            row["rejected_model"] as string,
            Rationale(row, chosen),
            Rationale(row, rejected),
            row[Row.ErrorColumn]?.ToString(),
            Digest(row));
    }

    /// <summary>
    /// What identifies the pair as reviewed: a hash of its prompt, chosen and rejected values as read from the file.
    /// </summary>
    internal static string Digest(Row row)
    {
        var text = JsonSerializer.Serialize(new[] { row["prompt"], row["chosen"], row["rejected"] });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    /// <summary>A prompt as turns: a message list as it is, a plain string as one user turn.</summary>
    private static IReadOnlyList<Turn> Turns(object? value) => value switch
    {
        null => [],
        string s => [new Turn("user", s)],
        IReadOnlyList<object?> messages => messages.Select(m => m is IReadOnlyDictionary<string, object?> message
            ? new Turn(message.GetValueOrDefault("role") as string ?? "?", Text(message.GetValueOrDefault("content")) ?? "")
            : new Turn("user", Text(m) ?? "")).ToList(),
        _ => [new Turn("user", value.ToString() ?? "")],
    };

    /// <summary>An answer's text: a string, or the contents of a message list (conversational DPO) joined.</summary>
    private static string? Text(object? value) => value switch
    {
        null => null,
        string s => s,
        IReadOnlyList<object?> messages => string.Join("\n\n", messages.Select(m => m is IReadOnlyDictionary<string, object?> message
            ? Text(message.GetValueOrDefault("content"))
            : Text(m))),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static double? Number(object? value) => value switch
    {
        long l => l,
        double d => d,
        _ => null,
    };

    /// <summary>The judge's rationale for an answer: <c>rationales</c> is per generation, found by the answer's text.</summary>
    private static string? Rationale(Row row, string? answer)
    {
        if (answer is null || row["rationales"] is not IReadOnlyList<object?> rationales || row["generations"] is not IReadOnlyList<object?> generations)
        {
            return null;
        }

        for (var i = 0; i < generations.Count && i < rationales.Count; i++)
        {
            if (Text(generations[i]) == answer)
            {
                return rationales[i] as string;
            }
        }

        return null;
    }
}
