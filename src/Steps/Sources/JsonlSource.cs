using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// load_jsonl: one JSON object per line, streamed. Row ids are record numbers (blank lines are not records).
/// A malformed line fails the run with the file and line number, or is skipped and counted (<c>on_error: skip</c>).
/// </summary>
internal sealed class JsonlSource : ISourceStep, ICountableSource
{
    private readonly string _path;
    private readonly InputErrorPolicy _onError;
    private readonly IReadOnlyList<string> _columns;
    private readonly int _maxLineBytes;

    public JsonlSource(StepParameters parameters)
    {
        Name = parameters.Name;
        _path = InputErrorPolicies.RequireExistingFile(parameters);
        _onError = InputErrorPolicies.Read(parameters);
        _maxLineBytes = parameters.GetInt32("max_line_bytes", DefinitionLimits.DefaultMaxLineBytes, 16, int.MaxValue / 2);
        _columns = parameters.GetStringList("columns") ?? PeekColumns(parameters);
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _columns;

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => RunFingerprint.OfFileAsync(_path, cancellationToken);

    public async ValueTask<long?> CountAsync(CancellationToken cancellationToken) =>
        await RecordsAsync(cancellationToken).LongCountAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (line, record) in new RangeCursor(range).AdmitInOrderAsync(RecordsAsync(cancellationToken), cancellationToken))
        {
            var row = Parse(line, record);
            if (row is null)
            {
                context.CountDropped(InputErrorPolicies.MalformedRecord);
                continue;
            }

            yield return row;
        }
    }

    /// <summary>The file's records: every line but blank ones (a line without text, too long or not UTF-8, is a broken record).</summary>
    private IAsyncEnumerable<JsonlLine> RecordsAsync(CancellationToken cancellationToken) =>
        JsonlLines.ReadAsync(_path, _maxLineBytes, cancellationToken).Where(line => line.Text is null || !string.IsNullOrWhiteSpace(line.Text));

    private Row? Parse(JsonlLine line, long id)
    {
        string problem;
        if (line.Text is null)
        {
            problem = line.Problem!;
        }
        else
        {
            try
            {
                using var document = JsonDocument.Parse(line.Text);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    return RowJson.ToRow(id, document.RootElement);
                }

                problem = $"expected a JSON object, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}";
            }
            catch (JsonException e)
            {
                problem = $"malformed JSON: {Cut(e.Message)}{(e.BytePositionInLine is { } at ? $" (at byte {at + 1} of the line)" : string.Empty)}";
            }
            catch (InvalidOperationException)
            {
                problem = "a string holds a lone surrogate escape such as \\ud800 (half of a UTF-16 pair), which is not text";
            }
        }

        if (_onError == InputErrorPolicy.Skip)
        {
            return null;
        }

        throw new PipelineDefinitionException($"{problem} (set \"on_error\": \"skip\" on step '{Name}' to skip such lines)", _path, line.Number);
    }

    // The parser appends " LineNumber: 0 | BytePositionInLine: …" about the line alone, which reads as wrong; the position is said once.
    private static string Cut(string message)
    {
        var end = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        message = end > 0 ? message[..end] : message;
        return message.Length <= 300 ? message : message[..300] + "…";
    }

    private IReadOnlyList<string> PeekColumns(StepParameters parameters)
    {
        // The first record names the columns, so that later steps' needs are checked before anything runs.
        // Read while the definition loads, before any pipeline runs: blocking here holds up nothing else.
        foreach (var line in RecordsAsync(CancellationToken.None).ToBlockingEnumerable())
        {
            if (Parse(line, 0) is { } row)
            {
                return row.Columns.ToList();
            }
        }

        throw parameters.Error("path", $"{_path} holds no records");
    }
}
