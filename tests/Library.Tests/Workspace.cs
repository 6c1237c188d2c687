using System.Diagnostics;
using System.Text.Json;

namespace Distil.Library.Tests;

/// <summary>A temp folder per test, removed afterwards, and the files and peers of the repository the tests run in.</summary>
public sealed class Workspace : IDisposable
{
    public string Root { get; } = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distil-tests", "library-" + Guid.NewGuid().ToString("N")[..12])).FullName;

    public string Path(string relative) => System.IO.Path.Combine(Root, relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process still closing a file; the temp folder is cleaned later.
        }
    }

    public static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(relative);
    }

    /// <summary>One query run by DuckDB (tests/peers/duckdb-query.mjs, an independent Parquet reader); its rows.</summary>
    public static async Task<JsonElement> DuckDbAsync(string query)
    {
        var peers = System.IO.Path.GetDirectoryName(RepositoryFile("tests/peers/duckdb-query.mjs"))!;
        Assert.True(Directory.Exists(System.IO.Path.Combine(peers, "node_modules", "@duckdb", "node-api")), "the npm peer @duckdb/node-api is missing: run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
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
}
