using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Distil.Library.Tests;

/// <summary>samples/Distil.Samples.Console, run as a user runs it: its own process, its Parquet read back by DuckDB.</summary>
public sealed partial class SampleTests : IDisposable
{
    private readonly TempFolder _workspace = new("distil-library");

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public async Task The_sample_runs_the_seed_pipeline_and_writes_DPO_pairs_DuckDB_reads()
    {
        var (exitCode, stdout, stderr) = await RunSampleAsync("--work", _workspace.Sub("work"), "--limit", "8");
        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("run succeeded", stdout, StringComparison.Ordinal);
        Assert.Matches(@"gen-b calls through this program's decorator: 8\b", stdout);

        var summary = PairsLine().Match(stdout);
        Assert.True(summary.Success, stdout);
        var pairs = int.Parse(summary.Groups["pairs"].Value, CultureInfo.InvariantCulture);
        var file = summary.Groups["file"].Value;
        Assert.True(pairs > 0, $"no pair kept out of 8 prompts:\n{stdout}");

        var rows = await DuckDb.QueryAsync(
            $"select count(*)::INTEGER as n, min(chosen_rating - rejected_rating)::DOUBLE as margin, count(*) filter (where len(chosen) > 0 and len(rejected) > 0 and len(prompt) > 0)::INTEGER as complete from read_parquet('{file}')");
        var row = rows[0];
        Assert.Equal(pairs, row.GetProperty("n").GetInt32());
        Assert.Equal(pairs, row.GetProperty("complete").GetInt32());
        Assert.True(row.GetProperty("margin").GetDouble() >= 1, "min_margin is 1: every kept pair's ratings differ by at least 1");
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(file)!, "README.md")), "the dataset card is written beside the data");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunSampleAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Distil.Samples.Console.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"pairs: (?<pairs>\d+) in (?<file>\S+\.parquet)")]
    private static partial Regex PairsLine();
}
