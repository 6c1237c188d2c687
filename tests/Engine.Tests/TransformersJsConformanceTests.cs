using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Tests.Support;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests;

/// <summary>
/// Peer conformance: transformers.js 4.3.1 (@huggingface/transformers, tests/peers, run by node with remote models
/// off) loads each folder the builder writes and, fed the same prompt ids, produces the same greedy token ids as
/// Distil alone (batch 1) and Distil under continuous batching. Every architecture the builder writes is in its
/// registry (llama, qwen2, qwen3, falcon → *ForCausalLM) and it sizes the empty cache from the graph's input
/// metadata, so grouped KV heads need nothing beyond config.json. One adaptation: transformers.js reads Falcon's
/// <c>multi_query: true</c> as GPT-BigCode's fused <c>key_value</c> cache names, so the script clears that flag in
/// the config it hands over (the one KV head still comes from the graph).
/// </summary>
[Collection(ArchitecturePresetCollection.Name)]
public sealed class TransformersJsConformanceTests(ArchitecturePresets presets)
{
    private const int NewTokens = 32;

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-falcon")]
    [InlineData("tiny-falcon-40b-style")]
    [InlineData("tiny-qwen2")]
    [InlineData("tiny-qwen3")]
    public async Task Greedy_ids_equal_transformers_js_alone_and_under_continuous_batching(string preset)
    {
        var folder = presets.Folder(preset);
        var prompts = Chat.Prompts.Take(5).ToList();

        using var alone = LocalModel.Load(folder, new LocalModelOptions { MaxBatchSize = 1, Threads = 1, PrefixCacheBytes = 0 });
        var promptIds = prompts.Select(p => alone.Tokenize(Chat.User(p))).ToList();
        var single = new List<IReadOnlyList<int>>();
        foreach (var prompt in prompts)
        {
            single.Add(Chat.Tokens(await alone.GetResponseAsync(Chat.User(prompt), Chat.Greedy(NewTokens))));
        }

        using var batched = LocalModel.Load(folder, new LocalModelOptions { MaxBatchSize = 4, Threads = 1 });
        var together = await batched.GetResponsesAsync(prompts.Select(p => new BatchChatRequest(Chat.User(p), Chat.Greedy(NewTokens))).ToList());

        var peer = RunTransformersJs(folder, promptIds);
        for (var i = 0; i < prompts.Count; i++)
        {
            Assert.Equal(peer[i], single[i]);
            Assert.Null(together[i].Error);
            Assert.Equal(peer[i], Chat.Tokens(together[i].Response!));
        }

        Assert.All(single, ids => Assert.InRange(ids.Count, 1, NewTokens));
        Assert.True(single.Sum(ids => ids.Count) >= 5 * NewTokens, $"{preset}: too few tokens compared ({single.Sum(ids => ids.Count)})");
        Assert.True(single.Select(ids => string.Join(',', ids)).Distinct().Count() > 1, $"{preset}: every prompt gave the same continuation");
    }

    /// <summary>One node process per architecture: tests/peers/transformers-generate.mjs over all prompts.</summary>
    private static List<List<int>> RunTransformersJs(string folder, IReadOnlyList<int[]> prompts)
    {
        var peers = PeersFolder();
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = peers,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(peers, "transformers-generate.mjs"));
        using var node = Process.Start(info)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        var request = new JsonObject
        {
            ["folder"] = folder,
            ["max_new_tokens"] = NewTokens,
            ["prompts"] = new JsonArray(prompts.Select(p => (JsonNode)new JsonArray(p.Select(id => (JsonNode?)id).ToArray())).ToArray()),
        };
        node.StandardInput.Write(request.ToJsonString());
        node.StandardInput.Close();
        if (!node.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail("transformers.js did not finish within 3 minutes");
        }

        Assert.True(node.ExitCode == 0, $"transformers.js failed on {folder} (exit {node.ExitCode}): {stderr.Result}");
        var result = JsonNode.Parse(stdout.Result)!["generated"]!.AsArray();
        return result.Select(row => row!.AsArray().Select(id => id!.GetValue<int>()).ToList()).ToList();
    }

    /// <summary>tests/peers with @huggingface/transformers installed (.ci/setup.sh runs npm ci there).</summary>
    private static string PeersFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var peers = Path.Combine(dir.FullName, "tests", "peers");
            if (File.Exists(Path.Combine(peers, "transformers-generate.mjs")))
            {
                Assert.True(
                    Directory.Exists(Path.Combine(peers, "node_modules", "@huggingface", "transformers")),
                    $"@huggingface/transformers is not installed in {peers}; run .ci/setup.sh (npm ci --ignore-scripts --prefix tests/peers)");
                return peers;
            }
        }

        throw new DirectoryNotFoundException("tests/peers/transformers-generate.mjs not found above " + AppContext.BaseDirectory);
    }
}
