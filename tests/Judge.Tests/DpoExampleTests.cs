using Distil.Judge;

namespace Distil.Judge.Tests;

public class DpoExampleTests
{
    [Fact]
    public void Conversational_format_is_lists_of_role_content_messages()
    {
        var example = DpoExample.Create("Be brief.", "What is 2+2?", "4", "5", DpoFormat.Conversational);

        var prompt = Assert.IsAssignableFrom<IReadOnlyList<object?>>(example.Prompt);
        Assert.Equal(2, prompt.Count);
        AssertMessage(prompt[0], "system", "Be brief.");
        AssertMessage(prompt[1], "user", "What is 2+2?");
        AssertMessage(Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<object?>>(example.Chosen)), "assistant", "4");
        AssertMessage(Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<object?>>(example.Rejected)), "assistant", "5");
    }

    [Fact]
    public void Without_a_system_prompt_the_prompt_is_the_user_message_alone()
    {
        var example = DpoExample.Create(null, "Hi", "Hello!", "Go away.", DpoFormat.Conversational);
        AssertMessage(Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<object?>>(example.Prompt)), "user", "Hi");
    }

    [Fact]
    public void Standard_format_is_plain_strings()
    {
        var example = DpoExample.Create(null, "What is 2+2?", "4", "5", DpoFormat.Standard);
        Assert.Equal(("What is 2+2?", "4", "5"), ((string)example.Prompt, (string)example.Chosen, (string)example.Rejected));
    }

    [Fact]
    public void Prompt_id_is_the_sha256_hex_of_the_prompt()
    {
        // sha256("abc"), a published test vector.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", DpoExample.PromptIdOf("abc"));
        Assert.Equal(DpoExample.PromptIdOf("abc"), DpoExample.Create(null, "abc", "x", "y", DpoFormat.Conversational).PromptId);
    }

    private static void AssertMessage(object? message, string role, string content)
    {
        var map = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(message);
        Assert.Equal(role, map["role"]);
        Assert.Equal(content, map["content"]);
        Assert.Equal(2, map.Count);
    }
}
