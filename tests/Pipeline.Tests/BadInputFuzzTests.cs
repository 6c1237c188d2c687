using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Cli;

namespace Distil.Pipeline.Tests;

/// <summary>
/// The bad-input fuzz, in the suite: seeded mutations of the shipped pipelines and their data go through
/// <c>distil validate</c> and <c>distil run</c> (in-process, the CLI's own command layer, plus a few real processes).
/// Whatever the input, the command ends (no hang), exits 0, 1 or 2, never lets an exception escape (no crash line,
/// no trace), and an error message names a file.
/// </summary>
public sealed class BadInputFuzzTests : IDisposable
{
    private const int Seed = 13;
    private const int DefinitionCases = 160;
    private const int DataCases = 100;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(60);

    private readonly TestWorkspace _ws = new();
    private readonly string _pipelines;

    public BadInputFuzzTests()
    {
        _pipelines = Path.Combine(_ws.Root, "pipelines");
        var shipped = Path.Combine(TestRepository.Root, "pipelines");
        foreach (var file in Directory.EnumerateFiles(shipped, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(_pipelines, Path.GetRelativePath(shipped, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Mutated_definitions_and_data_never_crash_hang_or_leave_an_error_unlocated()
    {
        var random = new Random(Seed);
        var definitions = Directory.GetFiles(_pipelines, "*.json").Order(StringComparer.Ordinal).ToArray();
        var dedup = definitions.Single(f => f.EndsWith("sample-dedup.json", StringComparison.Ordinal));
        var exitCodes = new Dictionary<int, int>();
        for (var i = 0; i < DefinitionCases + DataCases; i++)
        {
            var name = $"case-{i:D3}";
            var source = i < DefinitionCases ? definitions[i % definitions.Length] : dedup;
            var text = i < DefinitionCases ? MutateDefinition(File.ReadAllText(source), random) : PointAtData(File.ReadAllText(dedup), name, random);
            var file = Path.Combine(_pipelines, name + ".json");
            File.WriteAllText(file, text);

            var validate = await CheckAsync(name, "validate", file);
            exitCodes[validate] = exitCodes.GetValueOrDefault(validate) + 1;
            if (validate == ExitCodes.Ok && source == dedup)
            {
                var output = Path.Combine(_ws.Root, "out", name);
                await CheckAsync(name, "run", file, "--runs", _ws.Runs, "--output", output, "--limit", "25");
            }
        }

        // The fuzz must exercise both outcomes, or it is not testing much.
        Assert.True(exitCodes.GetValueOrDefault(ExitCodes.Ok) > 0 && exitCodes.GetValueOrDefault(ExitCodes.InvalidInput) > DefinitionCases / 2, string.Join(", ", exitCodes));
    }

    [Fact]
    public async Task A_few_mutated_cases_as_real_processes_behave_like_in_process()
    {
        var random = new Random(Seed + 1);
        var source = Directory.GetFiles(_pipelines, "sample-dedup.json").Single();
        for (var i = 0; i < 4; i++)
        {
            var file = Path.Combine(_pipelines, $"process-{i}.json");
            File.WriteAllText(file, i == 3 ? PointAtData(File.ReadAllText(source), "process-3", random) : MutateDefinition(File.ReadAllText(source), random));
            var inProcess = await CheckAsync($"process-{i}", "validate", file);
            var (code, _, stderr) = await DistilProcess.RunAsync(_ws.Root, "validate", file);
            Assert.Equal(inProcess, code);
            Assert.DoesNotContain("   at ", stderr);
        }
    }

    /// <returns>The exit code, after asserting the rules every case must follow.</returns>
    private async Task<int> CheckAsync(string name, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var invocation = Task.Run(() => DistilCli.InvokeAsync(args, output, error));
        var finished = await Task.WhenAny(invocation, Task.Delay(CaseTimeout));
        Assert.True(finished == invocation, $"{name}: distil {args[0]} did not finish within {CaseTimeout.TotalSeconds}s (a hang)\n{File.ReadAllText(args[1])[..Math.Min(2000, new FileInfo(args[1]).Length is var l ? (int)l : 0)]}");
        var code = await invocation;
        var message = error.ToString();
        var context = $"{name}: distil {string.Join(' ', args)} → {code}\n{message}";
        Assert.True(code is ExitCodes.Ok or ExitCodes.RunFailed or ExitCodes.InvalidInput, context);
        Assert.DoesNotContain("unexpected error", message);
        Assert.DoesNotContain("   at ", message);
        if (code != ExitCodes.Ok)
        {
            Assert.True(message.Contains(_ws.Root, StringComparison.Ordinal), $"the message names no file: {context}");
        }

        return code;
    }

    /// <summary>Written as the escape <c>\ud800</c> (a serializer would replace a real lone surrogate with U+FFFD).</summary>
    private const string LoneSurrogate = "LONE-SURROGATE";

    private static readonly JsonNode?[] EvilValues =
    [
        2147483648L, -1, 0, 100000, 1e300, 0.5, "", "..", ".", LoneSurrogate, "a\u0000b", true, null, new string('z', 5000),
        "../../../../etc/passwd", "gen-zzz", "cuda:99",
    ];

    private static string MutateDefinition(string text, Random random)
    {
        switch (random.Next(10))
        {
            case 0:
                return text[..random.Next(text.Length)]; // truncated
            case 1:
                var at = random.Next(text.Length);
                return text[..at] + "{[\",:}]\\\u0000"[random.Next(9)] + text[at..];
        }

        var root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        var mutations = 1 + random.Next(3);
        for (var m = 0; m < mutations; m++)
        {
            var nodes = Walk(root).ToList();
            var target = nodes[random.Next(nodes.Count)];
            var parent = target.Parent;
            switch (random.Next(6))
            {
                case 0 when parent is not null:
                    Replace(target, Evil(random));
                    break;
                case 1 when parent is JsonObject obj:
                    obj.Remove(target.GetPropertyName());
                    break;
                case 2 when parent is JsonArray array && array.Count > 0:
                    array.Add(target.DeepClone()); // a duplicate step, model list entry, column
                    break;
                case 3 when target is JsonObject obj:
                    obj[random.Next(3) switch { 0 => "colour", 1 => LoneSurrogate, _ => "\ud83d\ude00" }] = Evil(random);
                    break;
                case 4 when parent is not null:
                    Replace(target, random.Next(2) == 0 ? new JsonArray() : new JsonObject());
                    break;
                default:
                    if (parent is not null)
                    {
                        Replace(target, Evil(random));
                    }

                    break;
            }
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .Replace(LoneSurrogate, "\\ud800", StringComparison.Ordinal);
    }

    /// <summary>The dedup pipeline pointed at a mutated copy of its data.</summary>
    private string PointAtData(string definition, string name, Random random)
    {
        var data = File.ReadAllBytes(Path.Combine(_pipelines, "data", "sample-prompts.jsonl")).ToList();
        var at = random.Next(data.Count);
        switch (random.Next(8))
        {
            case 0: data.InsertRange(at, new byte[] { 0xC3, 0x28 }); break; // invalid UTF-8
            case 1: data.InsertRange(at, new byte[] { 0xFF }); break;
            case 2: data.RemoveRange(at, data.Count - at); break; // truncated mid-record
            case 3: data.InsertRange(at, "\n{\"instruction\": \"\\ud800\"}\n"u8.ToArray()); break;
            case 4: data.InsertRange(at, "\n[1, 2]\n"u8.ToArray()); break;
            case 5: data.InsertRange(at, Encoding.UTF8.GetBytes($"\n{{\"instruction\": \"{new string('w', 200_000)}\"}}\n")); break;
            case 6: data.Clear(); break;
            default: data.InsertRange(at, "\n{\"instruction\": 2147483648000000000000, \"topic\": {\"a\": [[[[]]]]}}\n"u8.ToArray()); break;
        }

        File.WriteAllBytes(Path.Combine(_pipelines, "data", name + ".jsonl"), data.ToArray());
        var text = definition.Replace("data/sample-prompts.jsonl", $"data/{name}.jsonl", StringComparison.Ordinal);
        return random.Next(2) == 0 ? text : text.Replace("\"type\": \"load_jsonl\",", "\"type\": \"load_jsonl\", \"on_error\": \"skip\", \"max_line_bytes\": 100000,", StringComparison.Ordinal);
    }

    private static JsonNode? Evil(Random random) => EvilValues[random.Next(EvilValues.Length)]?.DeepClone() ?? null;

    private static void Replace(JsonNode target, JsonNode? value)
    {
        switch (target.Parent)
        {
            case JsonObject obj:
                obj[target.GetPropertyName()] = value;
                break;
            case JsonArray array:
                array[target.GetElementIndex()] = value;
                break;
        }
    }

    private static IEnumerable<JsonNode> Walk(JsonNode node)
    {
        yield return node;
        var children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>().ToList())
        {
            foreach (var nested in Walk(child))
            {
                yield return nested;
            }
        }
    }
}
