using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>
/// Conversations in: pipelines/extend-chats.json as shipped, through the real CLI on its tiny local models (the
/// DPO prompt read back by DuckDB is each whole conversation), and chats stored as Parquet lists of structs (written
/// by DuckDB) read by load_parquet, where a conversation that does not end with a user turn fails its row only.
/// </summary>
public sealed class ExtendChatsPipelineTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Extends_each_chat_and_the_dpo_prompt_is_the_whole_conversation()
    {
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        var pipeline = _ws.Write("pipelines/extend-chats.json", File.ReadAllText(Path.Combine(shipped, "extend-chats.json")));
        _ws.LinkPresetModels(pipeline);
        var chats = File.ReadAllLines(Path.Combine(shipped, "data", "chats-mini.jsonl")).Where(l => l.Length > 0).ToList();
        _ws.Write("pipelines/data/chats-mini.jsonl", string.Join("\n", chats) + "\n");

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", pipeline, "--limit", "4", "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        var manifest = RunManifest.Read(Directory.GetFiles(_ws.Runs, RunManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.Equal(0, manifest.Steps.Sum(s => s.Errors));
        Assert.Equal(4, manifest.Steps.Single(s => s.Name == "judge").RowsOut);
        var pairs = manifest.Steps.Single(s => s.Name == "pairs").RowsOut;
        Assert.True(pairs > 0, "no pair survived the margin: the test shows nothing");

        var parquet = Path.Combine(_ws.Outputs, "data.parquet").Replace("'", "''", StringComparison.Ordinal);
        var rows = await DuckDb.QueryAsync($"SELECT to_json(prompt) AS prompt, to_json(chosen) AS chosen, to_json(messages) AS messages FROM '{parquet}'");
        Assert.Equal(pairs, rows.GetArrayLength());
        var expected = chats.Select(Conversation).ToList();
        foreach (var row in rows.EnumerateArray())
        {
            var prompt = Messages(row.GetProperty("prompt").GetString()!);
            // The conversation as the source held it, headed by the step's system prompt where it brought none.
            var source = Assert.Single(expected, c => c.SequenceEqual(c[0].Role == "system" ? prompt : prompt.Skip(1)));
            Assert.Equal(source[0].Role == "system" ? source : [("system", "You are a helpful assistant."), .. source], prompt);
            var chosen = Assert.Single(Messages(row.GetProperty("chosen").GetString()!));
            Assert.Equal("assistant", chosen.Role);
            Assert.Equal([.. prompt, chosen], Messages(row.GetProperty("messages").GetString()!));
        }

        Assert.Contains(rows.EnumerateArray(), r => Messages(r.GetProperty("prompt").GetString()!).Count >= 4);
    }

    [Fact]
    public async Task Chats_stored_as_parquet_lists_of_structs_feed_a_generator_and_a_bad_one_fails_its_row()
    {
        var chats = Path.Combine(_ws.Root, "chats.parquet");
        await DuckDb.WriteParquetAsync(chats, """
            SELECT * FROM (VALUES
              (0, [{'role': 'user', 'content': 'Hello!'}, {'role': 'assistant', 'content': 'Hi, how can I help?'}, {'role': 'user', 'content': 'Tell me a joke.'}]),
              (1, [{'role': 'user', 'content': 'Hello!'}, {'role': 'assistant', 'content': 'Hi.'}]),
              (2, [{'role': 'system', 'content': 'Be terse.'}, {'role': 'user', 'content': 'Why?'}])
            ) t(n, conversations)
            """);
        var definition = _ws.Write("chats.json", $$"""
            {
              "name": "parquet-chats",
              "models": { "m": { "type": "local", "path": "models/tiny-a", "build": { "preset": "tiny", "seed": 1 }, "chat_template": "llama3", "threads": 1 } },
              "steps": [
                { "name": "load", "type": "load_parquet", "path": "chats.parquet" },
                { "name": "reply", "type": "text_generation", "model": "m", "input": "messages", "input_mappings": { "messages": "conversations" },
                  "generation": { "max_new_tokens": 4, "seed": 1 } },
                { "name": "out", "type": "write_jsonl", "path": "rows.jsonl" }
              ]
            }
            """);

        var (code, stdout, stderr) = await DistilProcess.RunAsync(_ws.Root, "run", definition, "--runs", "runs", "--output", "out");

        Assert.True(code == 0, stdout + stderr);
        var rows = TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "rows.jsonl"));
        Assert.Equal([0L, 2L], rows.Select(r => r.GetProperty("n").GetInt64()));
        Assert.Equal(
            [("user", "Hello!"), ("assistant", "Hi, how can I help?"), ("user", "Tell me a joke.")],
            Messages(rows[0].GetProperty("prompt_messages").GetRawText()));
        Assert.Equal([("system", "Be terse."), ("user", "Why?")], Messages(rows[1].GetProperty("prompt_messages").GetRawText()));
        var error = Assert.Single(TestWorkspace.ReadJsonl(Path.Combine(_ws.Outputs, "out.errors.jsonl")));
        Assert.Equal(1, error.GetProperty("id").GetInt64());
        Assert.Contains("reply: 'messages' ends with an assistant message", error.GetProperty("error").GetString());
    }

    private static List<(string Role, string Content)> Conversation(string jsonLine)
    {
        using var document = JsonDocument.Parse(jsonLine);
        return Messages(document.RootElement.GetProperty("messages").GetRawText());
    }

    private static List<(string Role, string Content)> Messages(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
    }
}
