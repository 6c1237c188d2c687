using Distil.Engine.Model;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Distil.Engine;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Distil.Bench;

/// <summary>
/// The engine against its peers on the same model folder, the same prompt ids (the engine's chat template applied
/// once, then fed as ids), the same intra-op thread count and greedy decoding: transformers.js
/// (@huggingface/transformers in tests/peers, run by node) and Microsoft.ML.OnnxRuntimeGenAI. Neither peer has
/// continuous batching, so a workload is a list of static groups, one generate call each; a request's delivered
/// tokens are its new tokens up to its own budget or its first end-of-sequence id, whatever its group computed.
/// </summary>
internal static class PeerBench
{
    /// <summary>One peer generate call: prompts (left-padded by the peer when unequal) and the group's token budget.</summary>
    internal sealed record Group(int[][] Prompts, int[] Budgets)
    {
        public int MaxNewTokens => Budgets.Max();
    }

    internal interface IPeer
    {
        string Name { get; }

        /// <summary>Delivered tokens per second over all groups, the better of two rounds (the model loaded and warmed beforehand).</summary>
        double TokensPerSecond(IReadOnlyList<Group> groups);
    }

    /// <summary>transformers.js in one node process per workload (tests/peers/transformers-bench.mjs).</summary>
    internal sealed class TransformersJs(string folder, int threads, ISet<int> stops) : IPeer
    {
        public string Name => "transformers.js";

        public double TokensPerSecond(IReadOnlyList<Group> groups)
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
            info.ArgumentList.Add(Path.Combine(peers, "transformers-bench.mjs"));
            using var node = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            var request = new JsonObject
            {
                ["folder"] = folder,
                ["threads"] = threads,
                ["groups"] = new JsonArray(groups.Select(g => (JsonNode)new JsonObject
                {
                    ["max_new_tokens"] = g.MaxNewTokens,
                    ["prompts"] = new JsonArray(g.Prompts.Select(p => (JsonNode)new JsonArray(p.Select(id => (JsonNode?)id).ToArray())).ToArray()),
                }).ToArray()),
            };
            node.StandardInput.Write(request.ToJsonString());
            node.StandardInput.Close();
            node.WaitForExit();
            if (node.ExitCode != 0)
            {
                throw new InvalidOperationException($"transformers.js failed (exit {node.ExitCode}): {stderr.Result}");
            }

            var result = JsonNode.Parse(stdout.Result) ?? throw new InvalidOperationException("transformers.js printed nothing");
            var generated = result["generated"]!.AsArray().Select(row => row!.AsArray().Select(id => id!.GetValue<int>()).ToArray()).ToList();
            return Delivered(groups, generated, stops) / result["seconds"]!.GetValue<double>();
        }

        private static string PeersFolder()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var peers = Path.Combine(dir.FullName, "tests", "peers");
                if (Directory.Exists(Path.Combine(peers, "node_modules", "@huggingface", "transformers")))
                {
                    return peers;
                }
            }

            throw new InvalidOperationException("tests/peers/node_modules/@huggingface/transformers not found above the bench (run .ci/setup.sh)");
        }
    }

    /// <summary>ONNX Runtime GenAI in this process, on a view of the folder whose genai_config.json sets the thread count.</summary>
    internal sealed class GenAi : IPeer, IDisposable
    {
        private readonly string _view;
        private readonly Model _model;
        private readonly int _pad;
        private readonly ISet<int> _stops;

        public GenAi(string folder, int threads, ISet<int> stops)
        {
            _view = ThreadedView(folder, threads);
            _model = new Model(_view);
            _pad = DecoderConfig.Load(folder).PadTokenId ?? 0;
            _stops = stops;
            Generate(new Group([[1, 2]], [2]));
        }

        public string Name => "ORT GenAI";

        public double TokensPerSecond(IReadOnlyList<Group> groups)
        {
            // Best of two rounds, as the engine's side keeps its best.
            var best = 0.0;
            for (var round = 0; round < 2; round++)
            {
                var clock = Stopwatch.StartNew();
                var generated = groups.SelectMany(Generate).ToList();
                best = Math.Max(best, Delivered(groups, generated, _stops) / clock.Elapsed.TotalSeconds);
            }

            return best;
        }

        public void Dispose()
        {
            _model.Dispose();
            Directory.Delete(_view, recursive: true);
        }

        private List<int[]> Generate(Group group)
        {
            var width = group.Prompts.Max(p => p.Length);
            var tokens = new int[group.Prompts.Length * width];
            for (var row = 0; row < group.Prompts.Length; row++)
            {
                var pad = width - group.Prompts[row].Length;
                tokens.AsSpan(row * width, pad).Fill(_pad);
                group.Prompts[row].CopyTo(tokens, (row * width) + pad);
            }

            using var parameters = new GeneratorParams(_model);
            parameters.SetSearchOption("batch_size", group.Prompts.Length);
            parameters.SetSearchOption("max_length", width + group.MaxNewTokens);
            parameters.SetSearchOption("do_sample", false);
            using var generator = new Generator(_model, parameters);
            generator.AppendTokens(tokens);
            while (!generator.IsDone())
            {
                generator.GenerateNextToken();
            }

            return Enumerable.Range(0, group.Prompts.Length).Select(row => generator.GetSequence((ulong)row)[width..].ToArray()).ToList();
        }

        /// <summary>A folder of links to the model's files with genai_config.json's intra-op threads set (GenAI takes
        /// session options only from that file).</summary>
        private static string ThreadedView(string folder, int threads)
        {
            var view = Directory.CreateTempSubdirectory("distil-genai-").FullName;
            foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
            {
                var target = Path.Combine(view, Path.GetFileName(entry));
                if (Directory.Exists(entry))
                {
                    Directory.CreateSymbolicLink(target, entry);
                }
                else if (Path.GetFileName(entry) != DecoderConfig.GenAiFileName)
                {
                    File.CreateSymbolicLink(target, entry);
                }
            }

            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, DecoderConfig.GenAiFileName)))!;
            var options = config["model"]!["decoder"]!["session_options"]!.AsObject();
            options["intra_op_num_threads"] = threads;
            options["inter_op_num_threads"] = 1;
            File.WriteAllText(Path.Combine(view, DecoderConfig.GenAiFileName), config.ToJsonString());
            return view;
        }
    }

    /// <summary>The engine's prompt ids for <paramref name="texts"/> under the model's chat template.</summary>
    public static int[][] PromptIds(string folder, IEnumerable<string> texts)
    {
        using var client = LocalModel.Load(folder, new LocalModelOptions { MaxBatchSize = 1 });
        return texts.Select(t => client.Tokenize([new ChatMessage(ChatRole.User, t)])).ToArray();
    }

    /// <summary>The end-of-sequence ids the peers stop at (config.json / genai_config.json).</summary>
    public static ISet<int> Stops(string folder) => DecoderConfig.Load(folder).EosTokenIds.ToHashSet();

    /// <summary>Static groups of <paramref name="size"/> requests in order (how a peer without continuous batching runs them).</summary>
    public static List<Group> Groups(int[][] prompts, int[] budgets, int size) =>
        Enumerable.Range(0, (prompts.Length + size - 1) / size)
            .Select(g => new Group(prompts.Skip(g * size).Take(size).ToArray(), budgets.Skip(g * size).Take(size).ToArray()))
            .ToList();

    private static long Delivered(IReadOnlyList<Group> groups, List<int[]> generated, ISet<int> stops)
    {
        var budgets = groups.SelectMany(g => g.Budgets).ToList();
        if (budgets.Count != generated.Count)
        {
            throw new InvalidOperationException($"the peer returned {generated.Count} sequences for {budgets.Count} prompts");
        }

        long total = 0;
        for (var i = 0; i < generated.Count; i++)
        {
            var tokens = generated[i].Take(budgets[i]).ToArray();
            var stop = Array.FindIndex(tokens, stops.Contains);
            total += stop >= 0 ? stop + 1 : tokens.Length;
        }

        return total;
    }
}
