using System.CommandLine;
using System.Text.Json;
using Distil.Engine;
using Distil.Engine.Building;
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
        var build = new Command("build", "Write a model folder (config.json, tokenizer, onnx/model.onnx)") { preset, from, seed, output, fp16 };
        build.SetAction((ParseResult r, CancellationToken ct) =>
        {
            var presetName = r.GetValue(preset);
            var source = r.GetValue(from);
            var folder = r.GetValue(output)!;
            if ((presetName is null) == (source is null))
            {
                Console.Error.WriteLine("error: give exactly one of --preset NAME or --from CHECKPOINT_FOLDER");
                return Task.FromResult(2);
            }

            var progress = new Progress<string>(m => Console.Error.WriteLine(m));
            try
            {
                if (presetName is not null)
                {
                    ModelBuilder.BuildPreset(presetName, r.GetValue(seed), folder, progress);
                }
                else
                {
                    ModelBuilder.BuildFromCheckpoint(source!, folder, r.GetValue(fp16), progress);
                }
            }
            catch (Exception e) when (e is ModelFormatException or ArgumentException or IOException)
            {
                // An unusable checkpoint folder or preset is bad input (README: exit code 2).
                Console.Error.WriteLine($"error: {e.Message}");
                return Task.FromResult(2);
            }

            Console.WriteLine(Path.GetFullPath(folder));
            return Task.FromResult(0);
        });
        return new Command("models", "Build local ONNX models") { build };
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
        var command = new Command("generate", "Generate a reply with a local model") { model, prompt, system, maxNew, temperature, topP, topK, seed, stop, device, threads, template, json, showPrompt };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            LocalChatClient client;
            try
            {
                client = LocalModel.Load(r.GetValue(model)!, new LocalModelOptions { Device = r.GetValue(device), Threads = r.GetValue(threads), ChatTemplate = r.GetValue(template), MaxBatchSize = 1 });
            }
            catch (Exception e) when (e is ModelFormatException or Distil.Engine.Text.TokenizerFormatException or Distil.Engine.Text.Jinja.JinjaTemplateException or ArgumentException or NotSupportedException)
            {
                // An unusable model folder is bad input (README: exit code 2).
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
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
                    return 2;
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
                    return 0;
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
                return 0;
            }
        });
        return command;
    }
}
