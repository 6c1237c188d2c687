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

    public JsonlSource(StepParameters parameters)
    {
        Name = parameters.Name;
        _path = InputErrorPolicies.RequireExistingFile(parameters);
        _onError = InputErrorPolicies.Read(parameters);
        _columns = parameters.GetStringList("columns") ?? PeekColumns(parameters);
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _columns;

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => RunFingerprint.OfFileAsync(_path, cancellationToken);

    public async ValueTask<long?> CountAsync(CancellationToken cancellationToken)
    {
        long records = 0;
        using var reader = new StreamReader(_path, Encoding.UTF8, true, 1 << 16);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                records++;
            }
        }

        return records;
    }

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true), Encoding.UTF8);
        long lineNumber = 0;
        long record = -1;
        var cursor = new RangeCursor(range);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            record++;
            var position = cursor.Admit(record);
            if (position == RangePosition.Before)
            {
                continue;
            }

            if (position == RangePosition.After)
            {
                yield break;
            }

            var row = Parse(line, record, lineNumber);
            if (row is null)
            {
                context.CountDropped(InputErrorPolicies.MalformedRecord);
                continue;
            }

            yield return row;
        }
    }

    private Row? Parse(string line, long id, long lineNumber)
    {
        string problem;
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return RowJson.ToRow(id, document.RootElement);
            }

            problem = $"expected a JSON object, found {document.RootElement.ValueKind.ToString().ToLowerInvariant()}";
        }
        catch (JsonException e)
        {
            problem = $"malformed JSON: {e.Message}";
        }

        if (_onError == InputErrorPolicy.Skip)
        {
            return null;
        }

        throw new PipelineDefinitionException($"{problem} (set \"on_error\": \"skip\" on step '{Name}' to skip such lines)", _path, lineNumber);
    }

    private IReadOnlyList<string> PeekColumns(StepParameters parameters)
    {
        // The first record names the columns, so that later steps' needs are checked before anything runs.
        using var reader = new StreamReader(_path, Encoding.UTF8);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    return document.RootElement.EnumerateObject().Select(p => p.Name).ToList();
                }
            }
            catch (JsonException) when (_onError == InputErrorPolicy.Skip)
            {
            }
            catch (JsonException e)
            {
                throw new PipelineDefinitionException($"malformed JSON: {e.Message}", _path, lineNumber);
            }

            if (_onError == InputErrorPolicy.Fail)
            {
                throw new PipelineDefinitionException("expected a JSON object", _path, lineNumber);
            }
        }

        throw parameters.Error("path", $"{_path} holds no records");
    }
}
