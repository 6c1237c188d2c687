using System.Diagnostics;
using System.Text.Json;

namespace Distil.Testing;

/// <summary>
/// DuckDB (the npm peer @duckdb/node-api, through tests/peers/duckdb-*.mjs) as a Parquet reader and writer
/// independent of Distil's own. One copy, in the test support library.
/// </summary>
public static class DuckDb
{
    /// <summary>The query's rows as JSON objects (DuckDB's JSON rendering: 64-bit integers come back as strings).</summary>
    public static async Task<JsonElement> QueryAsync(string query) => JsonDocument.Parse(await RunAsync("duckdb-query.mjs", query)).RootElement.Clone();

    /// <summary>Writes the result of <paramref name="query"/> to <paramref name="output"/> as Parquet.</summary>
    public static async Task WriteParquetAsync(string output, string query) => await RunAsync("duckdb-parquet.mjs", output, query);

    /// <summary>A table expression reading one Parquet file.</summary>
    public static string Read(string file) => $"read_parquet('{file.Replace("'", "''", StringComparison.Ordinal)}')";

    private static async Task<string> RunAsync(string script, params string[] arguments)
    {
        var peers = Path.GetDirectoryName(TestRepository.File("tests/peers/" + script))!;
        Assert.True(Directory.Exists(Path.Combine(peers, "node_modules", "@duckdb", "node-api")), "the npm peer @duckdb/node-api is missing: run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
        var info = new ProcessStartInfo("node") { WorkingDirectory = peers, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var node = Process.Start(info)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, stderr);
        return await stdout;
    }
}
