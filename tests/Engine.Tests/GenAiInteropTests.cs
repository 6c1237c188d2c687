using Distil.Engine.Generation;
using Distil.Engine.Onnx;
using Distil.Engine.Tests.Support;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Distil.Engine.Tests;

/// <summary>A folder Distil builds is an ordinary model folder for ONNX Runtime GenAI 0.18: it opens it from the
/// genai_config.json Distil writes and, greedy, picks the same tokens as Distil's scheduler.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class GenAiInteropTests(TinyModels models)
{
    private static readonly int[][] Prompts = [[100256, 9906, 1917, 11, 1268, 527, 499, 30], [100256, 5, 17, 200, 3, 99, 42, 7, 1000, 2000, 3000], [100256, 40]];

    [Fact]
    public async Task Onnx_runtime_genai_greedy_ids_equal_distils()
    {
        const int newTokens = 16;
        using var model = OnnxCausalLM.Load(models.A, ExecutionDevice.Cpu, threads: 1);
        await using var scheduler = new GenerationScheduler(model, new SchedulerOptions { MaxBatchSize = 3, PrefixCacheBytes = 0 });
        var distil = await Task.WhenAll(Prompts.Select(p => scheduler.Submit(new GenerationRequest(p, newTokens, new HashSet<int>(), new Greedy(), default))));

        using var genAiModel = new Microsoft.ML.OnnxRuntimeGenAI.Model(models.A);
        for (var i = 0; i < Prompts.Length; i++)
        {
            using var parameters = new GeneratorParams(genAiModel);
            parameters.SetSearchOption("max_length", Prompts[i].Length + newTokens);
            parameters.SetSearchOption("do_sample", false);
            using var generator = new Generator(genAiModel, parameters);
            generator.AppendTokens(Prompts[i]);
            while (!generator.IsDone())
            {
                generator.GenerateNextToken();
            }

            var sequence = generator.GetSequence(0).ToArray();
            Assert.Equal(Prompts[i], sequence[..Prompts[i].Length]);
            Assert.Equal(distil[i].Tokens, sequence[Prompts[i].Length..]);
        }
    }

    /// <summary>Distil's greedy rule, with no stop tokens so both run the full length.</summary>
    private sealed class Greedy : ISequenceHandler
    {
        public int Choose(Span<float> logits, IReadOnlyList<int> generated) => GreedyChoice.IndexOfMax(logits);

        public bool Accept(int token) => false;
    }
}
