using Distil.Pipeline;

namespace Distil.Steps;

/// <summary>
/// Where a step that answers or judges a prompt reads it: the <c>input</c> parameter, <c>"instruction"</c> (the
/// default: one user message from the <c>instruction</c> column) or <c>"messages"</c> (a whole chat from the
/// <c>messages</c> column, see <see cref="Conversation"/>). It is stated, not guessed from the rows, so a pipeline's
/// needs are checked against its source before anything runs, and every row of a run is read the same way.
/// </summary>
internal static class PromptInput
{
    public const string Parameter = "input";

    /// <summary>True for <c>"input": "messages"</c>; any value other than the two is a located error.</summary>
    public static bool ReadsMessages(StepParameters parameters) => parameters.GetString(Parameter) switch
    {
        null or "instruction" => false,
        Conversation.Column => true,
        var other => throw parameters.Error(Parameter, $"unknown input '{other}'; choose \"instruction\" (one user message from the 'instruction' column) or \"messages\" (a conversation from the 'messages' column)"),
    };

    /// <summary>The column the prompt comes from.</summary>
    public static string ColumnOf(bool messages) => messages ? Conversation.Column : "instruction";
}
