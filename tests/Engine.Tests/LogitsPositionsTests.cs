using Distil.Engine.Building;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace Distil.Engine.Tests;

/// <summary>
/// Builder graphs write the head's logits straight into the output and take an optional <c>logits_positions</c>
/// input: left at its empty default the graph computes every position as the Optimum interface promises; fed one
/// column per row it computes just those rows, which the engine uses for every prefill. Checked against the same
/// graph's full logits in real ONNX Runtime sessions, and against an old-style folder whose graph lacks the input.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class LogitsPositionsTests(TinyModels models, ITestOutputHelper output)
{
    private static readonly long[][] Prompts = [[5, 17, 912, 4, 33], [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 81], [2000, 3], [64, 900, 12, 13, 14, 15, 16, 17, 18]];

    [Fact]
    public void The_input_is_an_overridable_initializer_and_the_head_writes_the_output_itself()
    {
        using var session = OpenSession(models.A);
        Assert.DoesNotContain(LogitsSelection.Input, session.InputMetadata.Keys);
        Assert.Equal(TensorElementType.Int64, session.OverridableInitializerMetadata[LogitsSelection.Input].ElementDataType);
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        Assert.True(model.Layout.SelectsLogitsPositions);
        Assert.True(model.Summary.Uses("FusedMatMul"), "the head should be a FusedMatMul over the 3-D hidden states");
        Assert.False(model.Summary.Uses("Gemm"), "a 2-D Gemm needs a Reshape into the output, which ONNX Runtime copies");
    }

    [Fact]
    public void Fed_positions_of_right_padded_rows_give_those_rows_of_the_full_logits()
    {
        using var session = OpenSession(models.A);
        var (ids, positions, mask, width) = RightPadded.Of(Prompts);
        var full = Run(session, ids, mask, positions, Prompts.Length, width, null);
        Assert.Equal([Prompts.Length, width, Vocab(session)], full.Shape);
        // Each row's last real token, and (to show the input selects, not just "last") the first column.
        foreach (var columns in new[] { Prompts.Select(p => (long)p.Length - 1).ToArray(), new long[Prompts.Length] })
        {
            var selected = Run(session, ids, mask, positions, Prompts.Length, width, columns);
            Assert.Equal([Prompts.Length, 1, Vocab(session)], selected.Shape);
            AssertRowsEqual(full, selected, columns);
        }
    }

    [Fact]
    public void Fed_positions_of_left_padded_rows_with_standard_attention_give_the_last_column_of_the_full_logits()
    {
        using var temp = new TempFolder();
        ModelBuilder.BuildPreset("tiny", 1, temp.Sub("standard"), attention: AttentionKernel.Standard);
        using var session = OpenSession(temp.Sub("standard"));
        var k = Prompts.Length;
        var width = Prompts.Max(p => p.Length);
        var ids = new long[k * width];
        var positions = new long[k * width];
        var mask = new long[k * width];
        for (var r = 0; r < k; r++)
        {
            var pad = width - Prompts[r].Length;
            for (var c = 0; c < Prompts[r].Length; c++)
            {
                ids[(r * width) + pad + c] = Prompts[r][c];
                positions[(r * width) + pad + c] = c;
                mask[(r * width) + pad + c] = 1;
            }
        }

        var full = Run(session, ids, mask, positions, k, width, null);
        var last = Enumerable.Repeat((long)width - 1, k).ToArray();
        AssertRowsEqual(full, Run(session, ids, mask, positions, k, width, last), last);
    }

    [Fact]
    public void A_prefix_continued_from_its_cache_gives_the_logits_of_an_old_style_graph_without_the_input()
    {
        using var temp = new TempFolder();
        var old = OldStyleCopy(models.A, temp.Sub("old"), AttentionKernel.GroupQuery);
        using var current = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        using var previous = OnnxCausalLM.Load(old, ExecutionDevice.Cpu, threads: 1);
        Assert.False(previous.Layout.SelectsLogitsPositions);

        // Right-padded rows of unequal length, then a 4-token continuation of the first prompt from its cache.
        var (ids, positions, mask, width) = RightPadded.Of(Prompts);
        var lastColumns = Prompts.Select(p => p.Length - 1).ToArray();
        long[] prefix = Prompts[0];
        long[] more = [40, 41, 42, 43];
        var continued = Enumerable.Range(prefix.Length, more.Length).Select(i => (long)i).ToArray();
        var logits = new List<float[]>();
        foreach (var model in new[] { current, previous })
        {
            var batch = new float[Prompts.Length * model.VocabSize];
            using var empty = model.EmptyCache(Prompts.Length);
            using (model.Forward(ids, mask, positions, Prompts.Length, width, empty, batch, lastColumns))
            {
            }

            using var emptyOne = model.EmptyCache(1);
            using var cache = model.Forward(prefix, Ones(prefix.Length), Enumerable.Range(0, prefix.Length).Select(i => (long)i).ToArray(), 1, prefix.Length, emptyOne, []);
            var next = new float[model.VocabSize];
            using (model.Forward(more, Ones(prefix.Length + more.Length), continued, 1, more.Length, cache, next))
            {
            }

            logits.Add([.. batch, .. next]);
        }

        var difference = logits[0].Zip(logits[1], (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"max |Δ| between the graph fed logits_positions and the old-style graph: {difference}");
        Assert.True(difference <= 1e-5f, $"max |Δ| {difference}");
    }

    [Theory]
    [InlineData(AttentionKernel.GroupQuery)]
    [InlineData(AttentionKernel.Standard)]
    public async Task Generation_is_the_same_with_the_input_and_from_an_old_style_folder_without_it(AttentionKernel attention)
    {
        using var temp = new TempFolder();
        var current = models.A;
        if (attention == AttentionKernel.Standard)
        {
            current = temp.Sub("standard");
            ModelBuilder.BuildPreset("tiny", 1, current, attention: attention);
        }

        var old = OldStyleCopy(current, temp.Sub("old"), attention);
        string[] prompts = [.. Chat.Prompts, "Hi", "Describe how a steam locomotive converts coal into motion, from the firebox to the wheels."];
        var tokens = new List<List<IReadOnlyList<int>>>();
        foreach (var folder in new[] { current, old })
        {
            await using var client = LocalModel.Load(folder, new LocalModelOptions { Threads = 1, MaxBatchSize = 8 });
            var requests = prompts.Select(p => new BatchChatRequest(Chat.User(p), Chat.Greedy(12))).ToList();
            var results = await client.GetResponsesAsync(requests);
            tokens.Add(results.Select(r => Chat.Tokens(r.Response ?? throw new InvalidOperationException(r.Error))).ToList());
        }

        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.True(tokens[0][i].SequenceEqual(tokens[1][i]), $"prompt {i} generated [{string.Join(", ", tokens[0][i])}] with the input and [{string.Join(", ", tokens[1][i])}] without");
        }
    }

    /// <summary>A copy of a tiny preset folder (seed 1) with its graph written as before the input existed: the same
    /// weights and head, the selection's empty initializer no longer a graph input (so a plain constant that selects
    /// every position).</summary>
    private static string OldStyleCopy(string source, string folder, AttentionKernel attention)
    {
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(folder, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        var config = LlamaConfig.Load(Path.Combine(folder, "config.json"));
        var graph = ModelBuilder.Graph(config, new RandomLlamaWeights(config, 1), OnnxDataType.Float, attention);
        Assert.Equal(1, graph.Inputs.RemoveAll(i => i.Name == LogitsSelection.Input));
        ModelBuilder.WriteGraph(graph, Path.Combine(folder, "onnx", "model.onnx"), externalData: false);
        return folder;
    }

    private static InferenceSession OpenSession(string folder)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        return new InferenceSession(Path.Combine(folder, "onnx", "model.onnx"), options);
    }

    private static int Vocab(InferenceSession session) => (int)session.OutputMetadata["logits"].Dimensions[2];

    /// <summary>One prefill from an empty cache through a plain session; <paramref name="columns"/> null leaves
    /// logits_positions at its default.</summary>
    private static (float[] Values, long[] Shape) Run(InferenceSession session, long[] ids, long[] mask, long[] positions, int batch, int seq, long[]? columns)
    {
        var pasts = session.InputMetadata.Keys.Where(n => n.StartsWith("past_key_values.", StringComparison.Ordinal)).ToList();
        var pastMeta = session.InputMetadata[pasts[0]];
        var names = new List<string> { "input_ids", "attention_mask", "position_ids" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [batch, seq]),
            OrtValue.CreateTensorValueFromMemory(mask, [batch, seq]),
            OrtValue.CreateTensorValueFromMemory(positions, [batch, seq]),
        };
        foreach (var past in pasts)
        {
            names.Add(past);
            values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, pastMeta.Dimensions[1], 0, pastMeta.Dimensions[3]]));
        }

        if (columns is not null)
        {
            names.Add(LogitsSelection.Input);
            values.Add(OrtValue.CreateTensorValueFromMemory(columns, [batch]));
        }

        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, ["logits"]);
            return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Row r of <paramref name="selected"/> ([rows, 1, vocab]) equals column columns[r] of row r of
    /// <paramref name="full"/> ([rows, width, vocab]) bit for bit: the head computes each row on its own.</summary>
    private static void AssertRowsEqual((float[] Values, long[] Shape) full, (float[] Values, long[] Shape) selected, long[] columns)
    {
        var (width, vocab) = ((int)full.Shape[1], (int)full.Shape[2]);
        for (var r = 0; r < columns.Length; r++)
        {
            var expected = full.Values.AsSpan((int)(((r * width) + columns[r]) * vocab), vocab);
            var actual = selected.Values.AsSpan(r * vocab, vocab);
            Assert.True(expected.SequenceEqual(actual), $"row {r}, column {columns[r]}: the selected logits differ from the full ones");
        }
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();
}
