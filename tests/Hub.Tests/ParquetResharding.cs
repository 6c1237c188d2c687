using DuckDB.NET.Data;

namespace Distil.Hub.Tests;

/// <summary>Re-split shards are checked with DuckDB, a Parquet reader independent of the writer.</summary>
public sealed class ParquetResharding
{
    [Theory]
    [InlineData(2500, 10_000, 1000, new long[] { 1000, 1000, 500 })]
    [InlineData(3000, 1500, 1000, new long[] { 1000, 500, 1000, 500 })]
    [InlineData(2000, 10_000, 1000, new long[] { 1000, 1000 })]
    public async Task Oversized_row_groups_are_resplit_with_every_value_kept(int rows, int sourceRowGroup, int maxRows, long[] expectedGroups)
    {
        using var folder = new TempFolder();
        var source = Path.Combine(folder.Path, "run", "dpo.parquet");
        await TestDatasets.WritePreferenceParquetAsync(source, rows, sourceRowGroup);
        var target = Path.Combine(folder.Path, "export");

        await HubPublisher.PublishAsync(Path.GetDirectoryName(source)!, new PublishOptions { ToDirectory = target, MaxRowsPerRowGroup = maxRows }, CancellationToken.None);

        var shard = Path.Combine(target, "data", "train-00000-of-00001.parquet");
        Assert.Equal(expectedGroups, RowGroups(shard));
        var expected = Rows(source);
        Assert.Equal(rows, expected.Count);
        Assert.Equal(expected, Rows(shard));
        Assert.Contains(expected, r => r.Contains("rejected=[]", StringComparison.Ordinal));
        Assert.Contains(expected, r => r.Contains("prompt=NULL", StringComparison.Ordinal));
        Assert.Contains(expected, r => r.Contains("score=NULL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Small_row_groups_are_published_byte_for_byte()
    {
        using var folder = new TempFolder();
        var source = Path.Combine(folder.Path, "run", "dpo.parquet");
        await TestDatasets.WritePreferenceParquetAsync(source, 300, 100);
        var target = Path.Combine(folder.Path, "export");

        await HubPublisher.PublishAsync(Path.GetDirectoryName(source)!, new PublishOptions { ToDirectory = target, MaxRowsPerRowGroup = 100 }, CancellationToken.None);

        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(Path.Combine(target, "data", "train-00000-of-00001.parquet")));
    }

    private static List<long> RowGroups(string path) =>
        Query($"SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('{path}') ORDER BY row_group_id", r => r.GetInt64(1));

    private static List<string> Rows(string path) =>
        Query(
            $"SELECT row_id, coalesce(prompt, 'NULL'), CAST(chosen AS VARCHAR), CAST(rejected AS VARCHAR), coalesce(CAST(score_chosen AS VARCHAR), 'NULL') FROM read_parquet('{path}') ORDER BY row_id",
            r => $"{r.GetInt64(0)} prompt={r.GetString(1)} chosen={r.GetString(2)} rejected={r.GetString(3)} score={r.GetString(4)}");

    private static List<T> Query<T>(string sql, Func<System.Data.Common.DbDataReader, T> read)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var result = new List<T>();
        while (reader.Read())
        {
            result.Add(read(reader));
        }

        return result;
    }
}
