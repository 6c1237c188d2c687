using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// A step's finished batches, content-addressed: <c>&lt;runs&gt;/.cache/&lt;pipeline&gt;/&lt;step&gt;/&lt;key&gt;.jsonl</c>, where the
/// key digests the step's <see cref="StepCacheKey"/> and the batch's input rows (ids and values). Any run of
/// any edit of the definition that feeds the step the same rows with the same settings and models reuses the
/// batch; a changed row changes only its own batch's key. Written atomically (a unique temporary file per
/// writer, so shards sharing the cache never collide). The first line records the input ids and counts; each
/// further line is an output row with typed values (see <see cref="RowJson"/>).
/// </summary>
internal sealed class BatchCache(string directory, string stepKey)
{
    public static string DirectoryFor(string runsRoot, string pipeline, string stepName) => Path.Combine(runsRoot, ".cache", pipeline, stepName);

    public string Directory { get; } = directory;

    private string PathOf(string key) => Path.Combine(Directory, $"{key}.jsonl");

    /// <summary>The batch's key: the step's key and the canonical content of its input rows.</summary>
    public string KeyOf(Row[] input) => CanonicalJson.Digest(writer =>
    {
        writer.WriteStartArray();
        writer.WriteStringValue(stepKey);
        foreach (var row in input)
        {
            writer.WriteStartObject();
            writer.WriteNumber("$id", row.Id);
            foreach (var column in row.Columns.Order(StringComparer.Ordinal))
            {
                writer.WritePropertyName(column);
                RowJson.WriteValue(writer, row[column]);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    })[..32];

    public async Task<(Row[] Rows, BatchCounts Counts)?> TryReadAsync(string key, Row[] input, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return await ReadAsync(path, input, cancellationToken);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException)
        {
            return null;
        }
    }

    /// <summary>A header object of named counts ({"duplicate": 3, …}).</summary>
    private static Dictionary<string, long> ReadCounts(JsonElement recorded)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var c in recorded.EnumerateObject())
        {
            counts[c.Name] = c.Value.GetInt64();
        }

        return counts;
    }

    /// <summary>Counts added to the header after batches were first cached: absent from older files, so empty there.</summary>
    private static Dictionary<string, long> OptionalCounts(JsonElement header, string name) =>
        header.TryGetProperty(name, out var recorded) ? ReadCounts(recorded) : new Dictionary<string, long>(StringComparer.Ordinal);

    private static void WriteCounts(Utf8JsonWriter writer, string name, IReadOnlyDictionary<string, long>? counts)
    {
        writer.WriteStartObject(name);
        foreach (var (key, count) in counts ?? new Dictionary<string, long>())
        {
            writer.WriteNumber(key, count);
        }

        writer.WriteEndObject();
    }

    private static async Task<(Row[] Rows, BatchCounts Counts)?> ReadAsync(string path, Row[] input, CancellationToken cancellationToken)
    {
        var lines = await File.ReadAllLinesAsync(path, cancellationToken);
        using var header = JsonDocument.Parse(lines[0]);
        var ids = header.RootElement.GetProperty("input_ids");
        if (ids.GetArrayLength() != input.Length || !ids.EnumerateArray().Select(e => e.GetInt64()).SequenceEqual(input.Select(r => r.Id)))
        {
            return null;
        }

        var counts = new BatchCounts(
            header.RootElement.GetProperty("errors").GetInt64(),
            header.RootElement.GetProperty("input_tokens").GetInt64(),
            header.RootElement.GetProperty("output_tokens").GetInt64(),
            ReadCounts(header.RootElement.GetProperty("dropped")),
            OptionalCounts(header.RootElement, "backends"),
            OptionalCounts(header.RootElement, "tallies"));

        var rows = new Row[lines.Length - 1];
        for (var i = 1; i < lines.Length; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            rows[i - 1] = RowJson.ToRow(line.RootElement.GetProperty("id").GetInt64(), line.RootElement.GetProperty("values"));
        }

        return (rows, counts);
    }

    public async Task WriteAsync(string key, Row[] input, IReadOnlyList<Row> output, BatchCounts counts, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("input_ids");
            foreach (var row in input)
            {
                writer.WriteNumberValue(row.Id);
            }

            writer.WriteEndArray();
            writer.WriteNumber("errors", counts.Errors);
            writer.WriteNumber("input_tokens", counts.InputTokens);
            writer.WriteNumber("output_tokens", counts.OutputTokens);
            WriteCounts(writer, "dropped", counts.Dropped);
            WriteCounts(writer, "backends", counts.Backends);
            WriteCounts(writer, "tallies", counts.Tallies);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        foreach (var row in output)
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", row.Id);
                writer.WritePropertyName("values");
                RowJson.WriteRow(writer, row);
                writer.WriteEndObject();
            }

            buffer.Write("\n"u8);
        }

        System.IO.Directory.CreateDirectory(Directory);
        // Not flushed to disk: a batch lost to a power cut is recomputed (an unreadable file counts as missing).
        var path = PathOf(key);
        await AtomicFile.WriteAsync(path, (stream, ct) => stream.WriteAsync(buffer.WrittenMemory, ct).AsTask(), cancellationToken, durable: false,
            temp: $"{path}.{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.partial");
    }
}
