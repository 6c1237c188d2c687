using System.Text;

namespace Distil.Steps;

/// <summary>
/// Reads RFC 4180 records: fields separated by a delimiter, optionally quoted; inside quotes a doubled quote
/// is a quote and newlines belong to the field. Tracks the line each record starts on, for error messages.
/// </summary>
internal sealed class CsvRecordReader(TextReader reader, char delimiter)
{
    private long _line = 1;

    /// <summary>Line (1-based) where the record last returned started.</summary>
    public long RecordLine { get; private set; }

    /// <summary>The next record, or null at the end. Throws <see cref="FormatException"/> for an unterminated quote or stray quote.</summary>
    /// <remarks>Synchronous over a buffered reader: a record may span lines, and a plain loop keeps the parser readable.</remarks>
    public List<string>? Read()
    {
        string? text;
        do
        {
            text = reader.ReadLine();
            if (text is null)
            {
                return null;
            }

            RecordLine = _line++;
        }
        while (text.Length == 0);

        var fields = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (true)
        {
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i == text.Length)
                    {
                        // The quoted field goes on past the end of the line.
                        var next = reader.ReadLine() ?? throw new FormatException("a quoted field is not closed before the end of the file");
                        _line++;
                        field.Append('\n');
                        text = next;
                        i = 0;
                        continue;
                    }

                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    field.Append(text[i++]);
                }

                if (i < text.Length && text[i] != delimiter)
                {
                    throw new FormatException($"unexpected character '{text[i]}' after a closing quote");
                }
            }
            else
            {
                var end = text.IndexOf(delimiter, i);
                var raw = end < 0 ? text[i..] : text[i..end];
                if (raw.Contains('"'))
                {
                    throw new FormatException("a quote inside an unquoted field (quote the whole field and double the inner quotes)");
                }

                field.Append(raw);
                i = end < 0 ? text.Length : end;
            }

            fields.Add(field.ToString());
            field.Clear();
            if (i >= text.Length)
            {
                return fields;
            }

            i++; // the delimiter
            if (i == text.Length)
            {
                fields.Add(string.Empty);
                return fields;
            }
        }
    }
}
