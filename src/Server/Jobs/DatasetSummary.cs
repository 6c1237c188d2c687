using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Serialization;

namespace Distil.Server.Jobs;

/// <summary>
/// The figures the dashboard shows for a finished run, computed once from the merged dataset a row
/// group at a time: row count, columns, preference pairs (rows with chosen and rejected), a histogram of
/// ratings (<c>chosen_rating</c> and <c>rejected_rating</c>, or every entry of <c>ratings</c>), a few sample rows.
/// </summary>
internal static class DatasetSummary
{
    private const int SampleRows = 3;
    private const int SampleTextLength = 240;

    public static async Task<string> ComputeAsync(IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        long rows = 0;
        long pairs = 0;
        var columns = new SortedSet<string>(StringComparer.Ordinal);
        var histogram = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var samples = new JsonArray();
        foreach (var file in files.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)))
        {
            int groups;
            await using (var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken))
            {
                groups = reader.RowGroupCount;
                columns.UnionWith(reader.Schema.Fields.Select(f => f.Name));
            }

            for (var group = 0; group < groups; group++)
            {
                await using var stream = File.OpenRead(file);
                var data = await ParquetSerializer.DeserializeUntypedAsync(stream, null, group, cancellationToken);
                foreach (var row in data.Data)
                {
                    rows++;
                    if (row.ContainsKey("chosen") && row.ContainsKey("rejected"))
                    {
                        pairs++;
                    }

                    foreach (var rating in Ratings(row))
                    {
                        var key = rating.ToString("0.##", CultureInfo.InvariantCulture);
                        histogram[key] = histogram.GetValueOrDefault(key) + 1;
                    }

                    if (samples.Count < SampleRows)
                    {
                        samples.Add(ToJson(row));
                    }
                }
            }
        }

        var summary = new JsonObject
        {
            ["rows"] = rows,
            ["pairs"] = columns.Contains("chosen") && columns.Contains("rejected") ? pairs : null,
            ["columns"] = new JsonArray(columns.Select(c => (JsonNode?)c).ToArray()),
            ["rating_histogram"] = histogram.Count == 0 ? null : new JsonObject(histogram.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["samples"] = samples,
        };
        return summary.ToJsonString();
    }

    private static IEnumerable<double> Ratings(Dictionary<string, object> row)
    {
        var found = false;
        foreach (var column in new[] { "chosen_rating", "rejected_rating" })
        {
            if (row.TryGetValue(column, out var value) && AsNumber(value) is { } number)
            {
                found = true;
                yield return number;
            }
        }

        if (!found && row.TryGetValue("ratings", out var list) && list is IEnumerable items and not string)
        {
            foreach (var item in items)
            {
                if (AsNumber(item) is { } number)
                {
                    yield return number;
                }
            }
        }
    }

    private static double? AsNumber(object? value) => value switch
    {
        null => null,
        double d when double.IsFinite(d) => d,
        float f when float.IsFinite(f) => f,
        long or int or short or byte or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        _ => null,
    };

    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => s.Length > SampleTextLength ? s[..SampleTextLength] + "…" : s,
        bool b => b,
        long or int or short or byte => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        double or float or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        IDictionary dictionary => new JsonObject(dictionary.Keys.Cast<object>().Select(k => KeyValuePair.Create(k.ToString()!, ToJson(dictionary[k])))),
        IEnumerable items => new JsonArray(items.Cast<object?>().Select(ToJson).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
