using Microsoft.Extensions.AI;

namespace Distil.Engine.Tests.Support;

internal static class Chat
{
    public static List<ChatMessage> User(string text, string? system = null) =>
        system is null ? [new(ChatRole.User, text)] : [new(ChatRole.System, system), new(ChatRole.User, text)];

    public static ChatOptions Greedy(int maxTokens, long? seed = null) => new() { Temperature = 0, MaxOutputTokens = maxTokens, Seed = seed };

    public static IReadOnlyList<int> Tokens(ChatResponse response) => ((LocalGeneration)response.RawRepresentation!).TokenIds;

    public static readonly string[] Prompts =
    [
        "Hello", "Write a haiku about autumn leaves.", "What is 2 + 2?", "Explain photosynthesis to a child in three sentences.",
        "List five prime numbers.", "Translate 'good morning' into French.", "Why is the sky blue?", "Name a famous painter.",
        "Give me a recipe for pancakes.", "Summarize the plot of Hamlet.",
    ];
}
