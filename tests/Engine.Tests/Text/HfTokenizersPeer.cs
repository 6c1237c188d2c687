using System.Diagnostics;
using System.Text.Json;

namespace Distil.Engine.Tests.Text;

/// <summary>
/// Hugging Face <c>tokenizers</c> (the Rust library, npm package <c>tokenizers</c>) run by tests/peers/hf-tokenize.js:
/// one node process per tokenizer encodes and decodes a batch of strings and every vocabulary entry. A missing
/// node or package fails the test (CI installs them with .ci/setup.sh), it is never skipped.
/// </summary>
internal static class HfTokenizersPeer
{
    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    public sealed record StringResult(int[] Ids, int[] WithSpecial, string Decoded, string DecodedSkip);

    public sealed record VocabResult(int Id, string Text, int[] Ids);

    public sealed record Reference(IReadOnlyList<StringResult> Strings, IReadOnlyList<VocabResult> Vocab);

    public static string PeersFolder { get; } = FindPeers();

    /// <summary>The folder of an npm package's tokenizer files under tests/peers/node_modules.</summary>
    public static string PackageModels(string package)
    {
        var folder = Path.Combine(PeersFolder, "node_modules", package, "models");
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer.json")),
            $"npm package {package} is not installed under {PeersFolder}/node_modules: run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
        return folder;
    }

    public static Reference Run(string tokenizerJson, IReadOnlyList<string> strings, bool vocabulary = true)
    {
        Assert.True(Directory.Exists(Path.Combine(PeersFolder, "node_modules", "tokenizers")),
            "npm package tokenizers is missing: run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
        var work = Directory.CreateTempSubdirectory("distil-hf-tokenizers-");
        try
        {
            var input = Path.Combine(work.FullName, "strings.json");
            var output = Path.Combine(work.FullName, "reference.json");
            File.WriteAllText(input, JsonSerializer.Serialize(strings));
            var start = new ProcessStartInfo("node") { WorkingDirectory = PeersFolder, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in new[] { Path.Combine(PeersFolder, "hf-tokenize.js"), tokenizerJson, input, output })
            {
                start.ArgumentList.Add(argument);
            }
            if (!vocabulary)
            {
                start.ArgumentList.Add("--no-vocab");
            }
            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new Xunit.Sdk.XunitException($"node is not installed (needed for the reference tokenizer): {e.Message}");
            }
            using (process)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                Assert.True(process.ExitCode == 0, $"hf-tokenize.js failed: {stderr.Result}");
            }
            using var stream = File.OpenRead(output);
            return JsonSerializer.Deserialize<Reference>(stream, CaseInsensitive)!;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string FindPeers()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "peers");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/peers not found above " + AppContext.BaseDirectory);
    }
}
