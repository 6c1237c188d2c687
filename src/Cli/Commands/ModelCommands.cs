using System.CommandLine;
using System.Text.Json;
using Distil.Engine;
using Distil.Engine.Building;
using Distil.Engine.Model;
using Distil.Engine.Onnx;
using Microsoft.Extensions.AI;

namespace Distil.Cli.Commands;

/// <summary>The commands models build, generate.</summary>
internal static class ModelCommands
{
    // Null fields (prompt without --show-prompt) are left out; prompt text keeps its <|special|> markers readable.
    private static readonly JsonSerializerOptions JsonOutput = new()
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IEnumerable<Command> Create() => [Models(), Generate()];

    private static Command Models()
    {
        var preset = new Option<string?>("--preset") { Description = $"Build from seeded random weights: {string.Join(", ", ModelPreset.Names)}" };
        var from = new Option<string?>("--from") { Description = "Convert a Hugging Face safetensors checkpoint folder (Llama, Qwen2/2.5, Qwen3 or Falcon)" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights (same seed, same bytes)", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var fp16 = new Option<bool>("--fp16") { Description = "Store weights as fp16 (checkpoint conversion; default fp32)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "With --preset: use this model folder's tokenizer files and chat template (vocabulary size and special ids from them)" };
        var attention = new Option<string>("--attention")
        {
            Description = "gqa: com.microsoft GroupQueryAttention over each row's own tokens (batch-invariant on the CPU); standard: opset-17 MatMul/Softmax any runtime can run",
            DefaultValueFactory = _ => "gqa",
        };
        attention.AcceptOnlyFromAmong("gqa", "standard");
        var fusion = new Option<string>("--fusion")
        {
            Description = "With gqa: contrib writes Llama-shaped layers with ONNX Runtime's fused operators (rotary inside GroupQueryAttention, packed q/k/v, SimplifiedLayerNormalization); none keeps them as standard operators around GroupQueryAttention (to compare)",
            DefaultValueFactory = _ => "contrib",
        };
        fusion.AcceptOnlyFromAmong("contrib", "none");
        var quantize = new Option<string?>("--quantize")
        {
            Description = "With --preset: also write a lower-precision variant: fp16 (onnx/model_fp16.onnx), or MatMulNBits q4 / q4-b128 (onnx/model_q4.onnx, 4 bits, blocks of 32 / 128) or q8 / q8-b128 (onnx/model_quantized.onnx, 8 bits)",
        };
        quantize.AcceptOnlyFromAmong([.. VariantFormat.Options.Keys]);
        var build = new Command("build", "Write a model folder (config.json, tokenizer, onnx/model.onnx)") { preset, from, seed, output, fp16, tokenizer, attention, fusion, quantize };
        build.SetAction((ParseResult r, CancellationToken ct) =>
        {
            var presetName = r.GetValue(preset);
            var source = r.GetValue(from);
            var folder = r.GetValue(output)!;
            if ((presetName is null) == (source is null))
            {
                Console.Error.WriteLine("error: give exactly one of --preset NAME or --from CHECKPOINT_FOLDER");
                return Task.FromResult(ExitCodes.InvalidInput);
            }

            if (presetName is not null && !ModelPreset.Names.Contains(presetName))
            {
                Console.Error.WriteLine($"error: unknown preset '{presetName}'; presets: {string.Join(", ", ModelPreset.Names)}");
                return Task.FromResult(ExitCodes.InvalidInput);
            }

            if (source is not null && !Directory.Exists(source))
            {
                Console.Error.WriteLine($"error: {Path.GetFullPath(source)}: no such checkpoint folder");
                return Task.FromResult(ExitCodes.InvalidInput);
            }

            if (r.GetValue(tokenizer) is { } tokenizerFolder && (presetName is null || !Directory.Exists(tokenizerFolder)))
            {
                Console.Error.WriteLine(presetName is null
                    ? "error: --tokenizer goes with --preset (a checkpoint brings its own tokenizer)"
                    : $"error: {Path.GetFullPath(tokenizerFolder)}: no such tokenizer folder");
                return Task.FromResult(ExitCodes.InvalidInput);
            }

            var progress = new Progress<string>(m => Console.Error.WriteLine(m));
            var kernel = r.GetValue(attention) == "standard" ? AttentionKernel.Standard
                : r.GetValue(fusion) == "none" ? AttentionKernel.GroupQueryUnfused : AttentionKernel.GroupQuery;
            try
            {
                if (presetName is not null)
                {
                    var variant = r.GetValue(quantize) is { } q ? VariantFormat.Options[q] : null;
                    ModelBuilder.BuildPreset(presetName, r.GetValue(seed), folder, progress, r.GetValue(tokenizer), kernel, variant);
                }
                else
                {
                    ModelBuilder.BuildFromCheckpoint(source!, folder, r.GetValue(fp16), progress, kernel);
                }
            }
            catch (Exception e) when (e is ModelFormatException or Distil.Engine.Text.Tokenizers.TokenizerFormatException or ArgumentException or FileNotFoundException or DirectoryNotFoundException)
            {
                // The checkpoint, tokenizer folder or an argument is not something the builder can read: the input is at fault.
                Console.Error.WriteLine($"error: {e.Message}");
                return Task.FromResult(ExitCodes.InvalidInput);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Writing the model folder failed (disk full, permissions): the run failed, the input may be fine.
                Console.Error.WriteLine($"error: {e.Message}");
                return Task.FromResult(ExitCodes.RunFailed);
            }

            Console.WriteLine(Path.GetFullPath(folder));
            return Task.FromResult(ExitCodes.Ok);
        });
        return new Command("models", "Build and inspect local ONNX models") { build, Info() };
    }

    /// <summary>models info: what a folder costs in memory, read from its files without loading the model.</summary>
    private static Command Info()
    {
        var folder = new Argument<string>("folder") { Description = "Model folder" };
        var variant = new Option<string?>("--variant") { Description = $"ONNX file of the folder: {string.Join(", ", ModelVariant.Files.Keys)}" };
        var context = new Option<int?>("--context") { Description = "Tokens per sequence for the batch estimate (default: the model's context)" };
        var memory = new Option<string?>("--memory") { Description = "Memory budget for the batch estimate, e.g. 16GiB" };
        var info = new Command("info", "Architecture, parameters, dtype, weight and KV-cache bytes, and the largest batch that fits") { folder, variant, context, memory };
        info.SetAction((ParseResult r, CancellationToken ct) =>
        {
            try
            {
                var model = ModelInfo.Read(r.GetValue(folder)!, r.GetValue(variant));
                var tokens = r.GetValue(context) ?? model.ContextLength;
                if (tokens < 1)
                {
                    throw new ArgumentException($"--context must be at least 1 (got {tokens})");
                }

                var inv = System.Globalization.CultureInfo.InvariantCulture;
                Console.WriteLine($"file:               {model.ModelFile}");
                Console.WriteLine($"architecture:       {model.Architecture}");
                Console.WriteLine(string.Create(inv, $"parameters:         {model.Parameters:N0}"));
                Console.WriteLine($"weights:            {model.WeightType}, {model.WeightBytes.ToString("N0", inv)} bytes");
                Console.WriteLine($"kv cache:           {model.KvType}, {model.Layers} layers x {model.KvHeads} kv heads x {model.HeadDim} head dim");
                Console.WriteLine(string.Create(inv, $"kv bytes per token: {model.KvBytesPerToken:N0}"));
                Console.WriteLine(string.Create(inv, $"context:            {model.ContextLength:N0} tokens"));
                if (r.GetValue(memory) is { } budgetText)
                {
                    var budget = ModelInfo.ParseBytes(budgetText);
                    Console.WriteLine(string.Create(inv, $"largest batch:      {model.LargestBatch(tokens, budget)} sequences of {tokens:N0} tokens in {budget:N0} bytes (weights + KV cache; leave headroom for activations)"));
                }

                return Task.FromResult(ExitCodes.Ok);
            }
            catch (Exception e) when (e is ModelFormatException or ArgumentException or FormatException or IOException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return Task.FromResult(ExitCodes.InvalidInput);
            }
        });
        return info;
    }

    private static Command Generate()
    {
        var model = new Option<string>("--model") { Description = "Model folder", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "User message", Required = true };
        var system = new Option<string?>("--system") { Description = "System message" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0.7f };
        var topP = new Option<float?>("--top-p");
        var topK = new Option<int?>("--top-k");
        var seed = new Option<long?>("--seed");
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads (0 = default)" };
        var template = new Option<string?>("--chat-template") { Description = "A built-in template (llama3, chatml, falcon) or a Jinja file; default: the model's own" };
        var json = new Option<bool>("--json") { Description = "Print {text, token_ids, prompt_token_ids, finish_reason, usage} as JSON" };
        var showPrompt = new Option<bool>("--show-prompt") { Description = "Print the rendered prompt (to stderr; with --json also as \"prompt\")" };
        var variant = new Option<string?>("--variant") { Description = $"ONNX file of the folder: {string.Join(", ", ModelVariant.Files.Keys)} (default: full precision)" };
        var command = new Command("generate", "Generate a reply with a local model") { model, prompt, system, maxNew, temperature, topP, topK, seed, stop, device, threads, template, json, showPrompt, variant };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            if (r.GetValue(maxNew) < 1 || r.GetValue(threads) < 0 || r.GetValue(threads) > Distil.Pipeline.DefinitionLimits.MaxThreads || r.GetValue(temperature) is < 0 or float.NaN || r.GetValue(topK) is < 1)
            {
                Console.Error.WriteLine($"error: --max-new-tokens must be at least 1, --threads from 0 to {Distil.Pipeline.DefinitionLimits.MaxThreads}, --temperature not negative, --top-k at least 1");
                return ExitCodes.InvalidInput;
            }

            if (!Directory.Exists(r.GetValue(model)))
            {
                Console.Error.WriteLine($"error: {Path.GetFullPath(r.GetValue(model)!)}: no such model folder");
                return ExitCodes.InvalidInput;
            }

            LocalChatClient client;
            try
            {
                client = LocalModel.Load(r.GetValue(model)!, new LocalModelOptions { Device = r.GetValue(device), Threads = r.GetValue(threads), ChatTemplate = r.GetValue(template), Variant = r.GetValue(variant), MaxBatchSize = 1 });
            }
            catch (Exception e) when (e is ModelFormatException or Distil.Engine.Text.Tokenizers.TokenizerFormatException or Distil.Engine.Text.Jinja.JinjaTemplateException or ArgumentException or NotSupportedException or IOException)
            {
                // An unusable model folder is bad input (README: exit code 2).
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.InvalidInput;
            }

            using (client)
            {
                var messages = new List<ChatMessage>();
                if (r.GetValue(system) is { } s)
                {
                    messages.Add(new ChatMessage(ChatRole.System, s));
                }

                messages.Add(new ChatMessage(ChatRole.User, r.GetValue(prompt)));
                var options = new ChatOptions
                {
                    MaxOutputTokens = r.GetValue(maxNew),
                    Temperature = r.GetValue(temperature),
                    TopP = r.GetValue(topP),
                    TopK = r.GetValue(topK),
                    Seed = r.GetValue(seed),
                    StopSequences = r.GetValue(stop) is { Length: > 0 } stops ? stops : null,
                };
                string renderedPrompt;
                int[] promptIds;
                try
                {
                    renderedPrompt = client.RenderPrompt(messages, options);
                    promptIds = client.Tokenize(messages, options);
                }
                catch (Distil.Engine.Text.Jinja.JinjaTemplateException e)
                {
                    Console.Error.WriteLine($"error: chat template: {e.Message}");
                    return ExitCodes.InvalidInput;
                }

                if (r.GetValue(showPrompt))
                {
                    Console.Error.WriteLine(renderedPrompt);
                }

                if (!r.GetValue(json))
                {
                    await foreach (var update in client.GetStreamingResponseAsync(messages, options, ct))
                    {
                        Console.Write(update.Text);
                    }

                    Console.WriteLine();
                    return ExitCodes.Ok;
                }

                var response = await client.GetResponseAsync(messages, options, ct);
                var raw = (LocalGeneration)response.RawRepresentation!;
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    text = response.Text,
                    token_ids = raw.TokenIds,
                    prompt_token_ids = promptIds,
                    prompt = r.GetValue(showPrompt) ? renderedPrompt : null,
                    finish_reason = raw.FinishReason,
                    usage = new { input_tokens = response.Usage?.InputTokenCount, output_tokens = response.Usage?.OutputTokenCount },
                }, JsonOutput));
                return ExitCodes.Ok;
            }
        });
        return command;
    }
}
