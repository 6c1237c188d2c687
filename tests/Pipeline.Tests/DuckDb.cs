using System.Diagnostics;
using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>DuckDB (the npm peer @duckdb/node-api installed by .ci/setup.sh) as an independent Parquet writer and reader.</summary>
internal static class DuckDb
{
    /// <summary>Writes the result of <paramref name="query"/> to <paramref name="output"/> as Parquet.</summary>
    public static async Task WriteParquetAsync(string output, string query) => await RunAsync("duckdb-parquet.mjs", output, query);

    /// <summary>The rows of <paramref name="query"/> as JSON objects (DuckDB writes big integers as strings).</summary>
    public static async Task<JsonElement> QueryAsync(string query) => JsonDocument.Parse(await RunAsync("duckdb-query.mjs", query)).RootElement.Clone();

    private static async Task<string> RunAsync(string script, params string[] arguments)
    {
        var peers = Path.Combine(BadInputFuzzTests.RepositoryRoot(), "tests", "peers");
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
