using System.Diagnostics;
using System.Text.Json;

namespace Distil.Server.Tests.Infrastructure;

/// <summary>DuckDB (the npm peer @duckdb/node-api, through tests/peers/duckdb-query.mjs): a Parquet reader independent of the writer.</summary>
public static class DuckDb
{
    /// <summary>The query's rows as JSON objects (DuckDB's JSON rendering: big integers come back as strings).</summary>
    public static async Task<JsonElement> QueryAsync(string query)
    {
        var peers = Path.GetDirectoryName(RepositoryFile("tests/peers/duckdb-query.mjs"))!;
        Assert.True(Directory.Exists(Path.Combine(peers, "node_modules", "@duckdb", "node-api")), "the npm peer @duckdb/node-api is missing: run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
        var info = new ProcessStartInfo("node") { WorkingDirectory = peers, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("duckdb-query.mjs");
        info.ArgumentList.Add(query);
        using var node = Process.Start(info)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0, stderr);
        return JsonDocument.Parse(await stdout).RootElement.Clone();
    }

    /// <summary>A table expression reading one Parquet file.</summary>
    public static string Read(string file) => $"read_parquet('{file.Replace("'", "''")}')";

    public static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(relative);
    }
}
