using ParquetSharp;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>Reads a flat Parquet file with ParquetSharp (Arrow's C++ reader), independent of the Parquet.Net that wrote it.</summary>
public static class ParquetRows
{
    public static List<Dictionary<string, object?>> Read(string path)
    {
        using var file = new ParquetFileReader(path);
        var schema = file.FileMetaData.Schema;
        var rows = new List<Dictionary<string, object?>>();
        for (var g = 0; g < file.FileMetaData.NumRowGroups; g++)
        {
            using var group = file.RowGroup(g);
            var count = checked((int)group.MetaData.NumRows);
            var groupRows = Enumerable.Range(0, count).Select(_ => new Dictionary<string, object?>(StringComparer.Ordinal)).ToList();
            for (var c = 0; c < schema.NumColumns; c++)
            {
                var descriptor = schema.Column(c);
                using var column = group.Column(c);
                var values = ReadColumn(column, descriptor, count);
                for (var r = 0; r < count; r++)
                {
                    groupRows[r][descriptor.Name] = values[r];
                }
            }

            rows.AddRange(groupRows);
        }

        return rows;
    }

    private static object?[] ReadColumn(ColumnReader column, ColumnDescriptor descriptor, int count)
    {
        var optional = descriptor.MaxDefinitionLevel > 0;
        return descriptor.PhysicalType switch
        {
            PhysicalType.ByteArray => column.LogicalReader<string?>().ReadAll(count).Cast<object?>().ToArray(),
            PhysicalType.Int64 when optional => column.LogicalReader<long?>().ReadAll(count).Select(v => (object?)v).ToArray(),
            PhysicalType.Int64 => column.LogicalReader<long>().ReadAll(count).Select(v => (object?)v).ToArray(),
            PhysicalType.Int32 when optional => column.LogicalReader<int?>().ReadAll(count).Select(v => (object?)(long?)v).ToArray(),
            PhysicalType.Int32 => column.LogicalReader<int>().ReadAll(count).Select(v => (object?)(long)v).ToArray(),
            PhysicalType.Double when optional => column.LogicalReader<double?>().ReadAll(count).Select(v => (object?)v).ToArray(),
            PhysicalType.Double => column.LogicalReader<double>().ReadAll(count).Select(v => (object?)v).ToArray(),
            PhysicalType.Boolean when optional => column.LogicalReader<bool?>().ReadAll(count).Select(v => (object?)v).ToArray(),
            PhysicalType.Boolean => column.LogicalReader<bool>().ReadAll(count).Select(v => (object?)v).ToArray(),
            _ => throw new NotSupportedException($"column {descriptor.Name}: {descriptor.PhysicalType} is not read by this test helper"),
        };
    }
}
