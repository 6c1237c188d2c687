using System.Text.Json;
using System.Text.Json.Serialization;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// What a run has handed to a provider's batch API for one group of requests, kept in the run folder
/// (<c>batches/&lt;model&gt;/&lt;digest of the requests&gt;.json</c>) so that a rerun of the same run polls the same
/// batches instead of paying for them again. Each round is one provider batch: the first carries every request,
/// later ones only those the provider failed or left unanswered. A round's input file id is written as soon as the
/// file is uploaded and its batch id as soon as the batch exists, each atomically, before anything waits on it.
/// </summary>
internal sealed class BatchJournal
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true };
    private readonly string? _path;
    private readonly List<BatchRound> _rounds;

    private BatchJournal(string? path, List<BatchRound> rounds)
    {
        _path = path;
        _rounds = rounds;
    }

    public IReadOnlyList<BatchRound> Rounds => _rounds;

    /// <summary>The journal of the requests with <paramref name="digest"/>; kept in memory only when there is no folder (outside a run).</summary>
    public static BatchJournal Open(string? directory, string digest)
    {
        if (directory is null)
        {
            return new BatchJournal(null, []);
        }

        var path = Path.Combine(directory, digest + ".json");
        if (!File.Exists(path))
        {
            return new BatchJournal(path, []);
        }

        try
        {
            var stored = JsonSerializer.Deserialize<Stored>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
            return new BatchJournal(path, stored.Rounds.ToList());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a batch journal ({e.Message}); delete it to submit its requests again", e);
        }
    }

    public void Add(BatchRound round)
    {
        _rounds.Add(round);
        Save();
    }

    public void Replace(int index, BatchRound round)
    {
        _rounds[index] = round;
        Save();
    }

    /// <summary>Forgets the requests' batches (a batch the provider refused as a whole), so a later run submits them again.</summary>
    public void Delete()
    {
        _rounds.Clear();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }

    private void Save()
    {
        if (_path is null)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        AtomicFile.WriteAllText(_path, JsonSerializer.Serialize(new Stored(_rounds), Json));
    }

    private sealed record Stored(IReadOnlyList<BatchRound> Rounds);
}

/// <summary>One provider batch: its input file, its id once created, and the requests it carries (null: all of them).</summary>
internal sealed record BatchRound(string InputFileId, string? BatchId, IReadOnlyList<string>? CustomIds);
