using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Distil.Pipeline.Runtime;

/// <summary>
/// A step's finished batches in the run directory: <c>steps/&lt;step&gt;/&lt;seq&gt;.jsonl</c>, written atomically.
/// The first line records the ids of the batch's input rows and its counts; each further line is an output
/// row with typed values (see <see cref="RowJson"/>). A cached batch is used only if its input ids match
/// the batch now being processed, so a changed upstream never serves stale rows.
/// </summary>
internal sealed class BatchCache(string directory)
{
    public static string DirectoryFor(string runDirectory, string stepName) => Path.Combine(runDirectory, "steps", stepName);

    public string Directory { get; } = directory;

    private string PathOf(long seq) => Path.Combine(Directory, $"{seq:D8}.jsonl");

    public async Task<(Row[] Rows, BatchCounts Counts)?> TryReadAsync(long seq, Row[] input, CancellationToken cancellationToken)
    {
        var path = PathOf(seq);
        if (!File.Exists(path))
        {
            return null;
        }

        var lines = await File.ReadAllLinesAsync(path, cancellationToken);
        using var header = JsonDocument.Parse(lines[0]);
        var ids = header.RootElement.GetProperty("input_ids");
        if (ids.GetArrayLength() != input.Length || !ids.EnumerateArray().Select(e => e.GetInt64()).SequenceEqual(input.Select(r => r.Id)))
        {
            return null;
        }

        var dropped = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var d in header.RootElement.GetProperty("dropped").EnumerateObject())
        {
            dropped[d.Name] = d.Value.GetInt64();
        }

        var counts = new BatchCounts(
            header.RootElement.GetProperty("errors").GetInt64(),
            header.RootElement.GetProperty("input_tokens").GetInt64(),
            header.RootElement.GetProperty("output_tokens").GetInt64(),
            dropped);

        var rows = new Row[lines.Length - 1];
        for (var i = 1; i < lines.Length; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            rows[i - 1] = RowJson.ToRow(line.RootElement.GetProperty("id").GetInt64(), line.RootElement.GetProperty("values"));
        }

        return (rows, counts);
    }

    public async Task WriteAsync(long seq, Row[] input, IReadOnlyList<Row> output, BatchCounts counts, CancellationToken cancellationToken)
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
            writer.WriteStartObject("dropped");
            foreach (var (reason, count) in counts.Dropped)
            {
                writer.WriteNumber(reason, count);
            }

            writer.WriteEndObject();
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
        await AtomicFile.WriteAsync(PathOf(seq), (stream, ct) => stream.WriteAsync(buffer.WrittenMemory, ct).AsTask(), cancellationToken);
    }

    public static void Clear(string runDirectory)
    {
        var steps = Path.Combine(runDirectory, "steps");
        if (System.IO.Directory.Exists(steps))
        {
            System.IO.Directory.Delete(steps, recursive: true);
        }
    }
}
