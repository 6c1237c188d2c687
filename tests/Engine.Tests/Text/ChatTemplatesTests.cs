using Distil.Engine.Text;
using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests.Text;

public sealed class ChatTemplatesTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "  Hi there \n"),
        new(ChatRole.Assistant, "Hello."),
        new(ChatRole.User, "2+2?"),
    ];

    [Fact]
    public void Llama3_renders_headers_trimmed_content_and_generation_prompt()
    {
        var text = ChatTemplates.Get("llama3").Render(Conversation, addGenerationPrompt: true);
        Assert.Equal(
            "<|begin_of_text|>" +
            "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            text);
    }

    [Fact]
    public void Llama3_maps_tool_results_to_the_ipython_role_and_omits_prompt_when_not_asked()
    {
        var text = ChatTemplates.Get("llama3").Render([new(ChatRole.Tool, "42")], addGenerationPrompt: false);
        Assert.Equal("<|begin_of_text|><|start_header_id|>ipython<|end_header_id|>\n\n42<|eot_id|>", text);
    }

    [Fact]
    public void ChatML_renders_im_start_blocks()
    {
        var text = ChatTemplates.Get("chatml").Render(Conversation[..2], addGenerationPrompt: true);
        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n" +
            "<|im_start|>user\n  Hi there \n<|im_end|>\n" +
            "<|im_start|>assistant\n",
            text);
    }

    [Fact]
    public void Falcon_renders_speaker_lines_and_the_falcon_prompt()
    {
        var text = ChatTemplates.Get("falcon").Render(Conversation, addGenerationPrompt: true);
        Assert.Equal("System: You are terse.\nUser:   Hi there \n\nFalcon: Hello.\nUser: 2+2?\nFalcon:", text);
        Assert.Equal("User: 2+2?", ChatTemplates.Get("falcon").Render([Conversation[3]], addGenerationPrompt: false));
    }

    [Fact]
    public void Falcon_rejects_roles_it_has_no_speaker_for() =>
        Assert.Throws<NotSupportedException>(() => ChatTemplates.Get("falcon").Render([new(ChatRole.Tool, "x")], true));

    [Fact]
    public void Unknown_name_lists_the_known_templates()
    {
        var error = Assert.Throws<ArgumentException>(() => ChatTemplates.Get("vicuna"));
        Assert.Contains("'vicuna'", error.Message);
        Assert.Contains("llama3, chatml, falcon", error.Message);
    }

    [Fact]
    public void Names_are_case_insensitive() => Assert.Equal("llama3", ChatTemplates.Get("Llama3").Name);

    [Fact]
    public void For_model_prefers_the_override()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", """{ "distil_chat_template": "llama3" }""");
        Assert.Equal("chatml", ChatTemplates.ForModel(folder.Path, "chatml").Name);
    }

    [Fact]
    public void For_model_without_a_jinja_template_reads_the_built_in_name_of_older_distil_folders()
    {
        using var folder = new TempModelFolder();
        folder.Write("tokenizer_config.json", """{ "distil_chat_template": "falcon" }""");
        Assert.Equal("falcon", ChatTemplates.ForModel(folder.Path, null).Name);
    }

    [Fact]
    public void For_model_uses_the_models_own_jinja_template_before_any_built_in()
    {
        using var folder = new TempModelFolder();
        folder.Write("config.json", """{ "model_type": "llama" }""");
        folder.Write("tokenizer_config.json", System.Text.Json.JsonSerializer.Serialize(new
        {
            distil_chat_template = "llama3",
            bos_token = "<s>",
            chat_template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
        }));
        var template = ChatTemplates.ForModel(folder.Path, null);
        Assert.IsType<JinjaChatTemplate>(template);
        Assert.Equal("<s>[user]Hi[assistant]", template.Render([new(ChatRole.User, "Hi")], addGenerationPrompt: true));
        Assert.Equal("<s>[user]Hi", template.Render([new(ChatRole.User, "Hi")], addGenerationPrompt: false));
    }

    [Theory]
    [InlineData("llama", "llama3")]
    [InlineData("falcon", "falcon")]
    [InlineData("qwen2", "chatml")]
    public void For_model_falls_back_to_config_model_type(string modelType, string expected)
    {
        using var folder = new TempModelFolder();
        folder.Write("config.json", $$"""{ "model_type": "{{modelType}}" }""");
        Assert.Equal(expected, ChatTemplates.ForModel(folder.Path, null).Name);
    }

    [Fact]
    public void For_model_without_any_hint_says_what_to_set()
    {
        using var folder = new TempModelFolder();
        folder.Write("config.json", """{ "model_type": "gpt_neox" }""");
        var error = Assert.Throws<ArgumentException>(() => ChatTemplates.ForModel(folder.Path, null));
        Assert.Contains("chat_template", error.Message);
        Assert.Contains(folder.Path, error.Message);
    }

    [Fact]
    public void Llama3_style_tokenizer_folder_ships_a_llama_3_1_style_jinja_template_whose_prompt_tokenizes_to_specials()
    {
        using var folder = new TempModelFolder();
        ModelTokenizer.WriteLlama3Style(folder.Path);
        var template = ChatTemplates.ForModel(folder.Path, null);
        Assert.IsType<JinjaChatTemplate>(template);
        var text = template.Render([new(ChatRole.User, "Hi")], true);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            text);
        var tokenizer = ModelTokenizer.Load(folder.Path);
        var ids = tokenizer.Encode(text);
        Assert.Equal(tokenizer.BeginOfTextId, ids[0]);
        Assert.Equal(tokenizer.TokenId("<|start_header_id|>"), ids[1]);
        Assert.Equal(9, ids.Count(tokenizer.IsSpecial));
    }
}
