namespace Distil.Steps;

/// <summary>
/// One WizardLM evolution (Xu et al. 2023): depth evolutions make a prompt harder in one way each (constraints,
/// depth, concreteness, reasoning steps); the breadth evolution writes a new prompt of the same domain and rarer topic.
/// The request shows the prompt between the <c>#Given Prompt#</c> and <c>#Rewritten Prompt#</c> labels, which is
/// why an answer that repeats a label is eliminated (see <see cref="EvolutionCheck"/>).
/// </summary>
public sealed record Evolution(string Name, string Goal)
{
    public static readonly IReadOnlyList<Evolution> All =
    [
        new("add_constraints", "Add one more constraint or requirement to the prompt, so that answering it takes more care."),
        new("deepen", "Where the prompt asks about something, widen and deepen the question, so that a good answer must go further."),
        new("concretize", "Replace general ideas in the prompt with more specific, concrete ones."),
        new("increase_reasoning", "If the prompt can be solved in a few simple steps, rewrite it so that it explicitly asks for reasoning over several steps."),
        new("breadth", "Do not rewrite the prompt: write a brand-new prompt in the same domain and of the same length and difficulty, on a rarer topic."),
    ];

    public static bool TryParse(string name, out Evolution evolution)
    {
        evolution = All.FirstOrDefault(e => e.Name == name)!;
        return evolution is not null;
    }

    /// <summary>The request that evolves <paramref name="prompt"/>.</summary>
    public string Request(string prompt) => $"""
        You rewrite prompts to make harder versions of them for training AI assistants. The rewritten prompt must still
        make sense, be answerable by people, and be no more than about 20 words longer than the given one.
        {Goal}
        Do not mention the words "given prompt" or "rewritten prompt" in your answer; answer with the new prompt only.

        #Given Prompt#:
        {prompt}

        #Rewritten Prompt#:
        """;
}
