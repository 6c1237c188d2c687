using System.Globalization;
using System.Text.RegularExpressions;

namespace Distil.Judge.Tests;

/// <summary>The CLI's progress shows each served model's concurrency, tokens/s and error rate (real CLI process, loopback server).</summary>
public class LiveProgressTests
{
    [Fact]
    public async Task Each_steps_progress_names_its_models_concurrency_throughput_and_error_rate()
    {
        await using var server = ServedPipeline.Server(failFirst: 4);
        var folder = Path.Combine(Path.GetTempPath(), "distil-progress-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var path = ServedPipeline.Write(folder, server, rows: 12);

            var (code, stdout, stderr) = await DistilProcess.RunAsync(folder, "run", path, "--runs", Path.Combine(folder, "runs"), "-o", Path.Combine(folder, "out"));

            Assert.True(code == 0, stderr);
            var errorRates = new List<double>();
            foreach (var (step, model) in new[] { ("gen_a", "gen-a"), ("gen_b", "gen-b"), ("judge", "judge") })
            {
                // The last report of a step: nothing left in flight.
                var line = Regex.Match(stdout, $@"^\[{step}\] done .*; {model}: 0 in flight of (\d+), (\d+) tok/s, ([\d.]+)% errors$", RegexOptions.Multiline);
                Assert.True(line.Success, $"no progress line for {step} with {model}'s figures in:\n{stdout}");
                Assert.InRange(int.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture), 1, 4); // within max_concurrency
                errorRates.Add(double.Parse(line.Groups[3].Value, CultureInfo.InvariantCulture));
            }

            Assert.Contains(errorRates, rate => rate > 0); // the server refused the first 4 requests
            Assert.DoesNotMatch(@"\[(load|combine|pairs|write|card)\].*tok/s", stdout); // no model, no model figures
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
