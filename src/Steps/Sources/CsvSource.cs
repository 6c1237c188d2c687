using System.Runtime.CompilerServices;
using System.Text;
using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// load_csv: a header line names the columns; every value is a string. Streams any size; quoted fields may
/// hold delimiters, quotes ("") and newlines. Row ids are record numbers after the header.
/// </summary>
internal sealed class CsvSource : ISourceStep
{
    private readonly string _path;
    private readonly char _delimiter;
    private readonly InputErrorPolicy _onError;
    private readonly IReadOnlyList<string> _header;

    public CsvSource(StepParameters parameters)
    {
        Name = parameters.Name;
        _path = InputErrorPolicies.RequireExistingFile(parameters);
        _onError = InputErrorPolicies.Read(parameters);
        var delimiter = parameters.GetString("delimiter") ?? ",";
        if (delimiter.Length != 1 || delimiter[0] is '"' or '\n' or '\r')
        {
            throw parameters.Error("delimiter", "'delimiter' must be a single character other than a quote or newline");
        }

        _delimiter = delimiter[0];
        _header = ReadHeader();
        if (_header.Distinct(StringComparer.Ordinal).Count() != _header.Count)
        {
            throw new PipelineDefinitionException("the header names a column twice", _path, 1);
        }
    }

    public string Name { get; }

    public IReadOnlyList<string> InputColumns => [];

    public IReadOnlyList<string> OutputColumns => _header;

    public ValueTask<string> FingerprintAsync(CancellationToken cancellationToken) => RunFingerprint.OfFileAsync(_path, cancellationToken);

    public async IAsyncEnumerable<Row> ReadAsync(SourceRange range, IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (record, number) in new RangeCursor(range).AdmitInOrderAsync(RecordsAsync(context, cancellationToken), cancellationToken))
        {
            if (record.Fields.Count != _header.Count)
            {
                var problem = $"expected {_header.Count} fields (as in the header), found {record.Fields.Count}";
                if (_onError == InputErrorPolicy.Fail)
                {
                    throw new PipelineDefinitionException($"malformed CSV record: {problem} (set \"on_error\": \"skip\" on step '{Name}' to skip such records)", _path, record.Line);
                }

                context.CountDropped(InputErrorPolicies.MalformedRecord);
                continue;
            }

            var row = new Row(number);
            for (var i = 0; i < record.Fields.Count; i++)
            {
                row[_header[i]] = record.Fields[i];
            }

            yield return row;
        }
    }

    /// <summary>The records after the header, each with the line it starts on; a broken quote or invalid UTF-8 ends them.</summary>
    private async IAsyncEnumerable<(List<string> Fields, long Line)> RecordsAsync(IStepContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        using var text = new StreamReader(_path, StrictUtf8, true, 1 << 16);
        var reader = new CsvRecordReader(text, _delimiter);
        reader.Read(); // header
        while (true)
        {
            List<string>? fields;
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                fields = reader.Read();
            }
            catch (Exception e) when (e is FormatException or DecoderFallbackException)
            {
                if (_onError == InputErrorPolicy.Fail)
                {
                    throw e is DecoderFallbackException
                        ? new PipelineDefinitionException($"invalid UTF-8 after the record that starts on line {reader.RecordLine} (the file must be UTF-8 text)", _path, reader.RecordLine + 1)
                        : new PipelineDefinitionException($"malformed CSV record: {e.Message}", _path, reader.RecordLine);
                }

                // The rest of the file cannot be trusted after a broken quote; stop here.
                context.CountDropped(InputErrorPolicies.MalformedRecord);
                yield break;
            }

            if (fields is null)
            {
                yield break;
            }

            yield return (fields, reader.RecordLine);
        }
    }

    // Invalid bytes are reported, not silently replaced with U+FFFD.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private List<string> ReadHeader()
    {
        using var text = new StreamReader(_path, StrictUtf8);
        var reader = new CsvRecordReader(text, _delimiter);
        try
        {
            return reader.Read() ?? throw new PipelineDefinitionException("the file is empty; a CSV source needs a header line", _path, 1);
        }
        catch (FormatException e)
        {
            throw new PipelineDefinitionException($"malformed CSV header: {e.Message}", _path, 1);
        }
        catch (DecoderFallbackException)
        {
            throw new PipelineDefinitionException("invalid UTF-8 in the header (the file must be UTF-8 text)", _path, 1);
        }
    }
}
