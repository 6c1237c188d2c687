namespace Distil.Pipeline.Tests;

/// <summary>
/// With <c>"deterministic": true</c> a local model decodes one request at a time, so the same definition and
/// seeds give a byte-identical Parquet whatever <c>max_batch_size</c> says (real CLI, real tiny ONNX model, sampling).
/// </summary>
public sealed class BatchInvarianceTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static string Definition(string modelSettings) => $$"""
        {
          "name": "invariant",
          "models": {
            "gen": { "type": "local", "path": "models/gen", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1, {{modelSettings}} }
          },
          "steps": [
            { "name": "load", "type": "load_jsonl", "path": "data/prompts.jsonl" },
            { "name": "gen", "type": "text_generation", "model": "gen", "input_batch_size": 12,
              "generation": { "max_new_tokens": 6, "temperature": 0.9, "top_p": 0.95, "seed": 5 } },
            { "name": "write", "type": "write_parquet", "path": "data.parquet" }
          ]
        }
        """;

    [Fact]
    public async Task Deterministic_models_write_the_same_bytes_at_batch_1_8_and_32()
    {
        _ws.WritePrompts(12);
        var reference = await RunAsync("batch1", "\"max_batch_size\": 1");
        foreach (var batch in new[] { 8, 32 })
        {
            var bytes = await RunAsync($"batch{batch}", $"\"max_batch_size\": {batch}, \"deterministic\": true");
            Assert.True(reference.AsSpan().SequenceEqual(bytes), $"max_batch_size {batch} with deterministic wrote other bytes than max_batch_size 1");
        }
    }

    private async Task<byte[]> RunAsync(string label, string modelSettings)
    {
        _ws.Write($"{label}.json", Definition(modelSettings));
        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", $"{label}.json", "--runs", $"runs-{label}", "--output", $"out-{label}");
        Assert.True(code == 0, stderr + stdout);
        return await File.ReadAllBytesAsync(Path.Combine(_ws.Root, $"out-{label}", "data.parquet"));
    }
}
