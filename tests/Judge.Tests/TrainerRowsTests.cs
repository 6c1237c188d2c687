using Distil.Judge;

namespace Distil.Judge.Tests;

public sealed class TrainerRowsTests
{
    private static readonly DpoExample Conversational = DpoExample.FromMessages([("system", "Be brief."), ("user", "Sky colour?")], "Blue.", "Green.", DpoFormat.Conversational);
    private static readonly DpoExample Standard = DpoExample.FromMessages([("user", "The sky is")], " blue.", " green.", DpoFormat.Standard);

    private static Dictionary<string, object?> Pair(DpoExample example) => new(StringComparer.Ordinal)
    {
        ["prompt"] = example.Prompt,
        ["chosen"] = example.Chosen,
        ["rejected"] = example.Rejected,
        ["prompt_id"] = example.PromptId,
        ["chosen_rating"] = 5L,
        ["rejected_rating"] = 2L,
        ["chosen_model"] = "a",
    };

    private static List<Dictionary<string, object?>> Rows(TrainerConfig config, DpoExample example, bool scores = false) =>
        TrainerRows.RowsOf(config, Pair(example), ["prompt", "chosen", "rejected", "prompt_id", "chosen_model"], scores).ToList();

    private static string Text(object? messages) => string.Join(" | ", ((IReadOnlyList<object?>)messages!).Cast<IReadOnlyDictionary<string, object?>>().Select(m => $"{m["role"]}: {m["content"]}"));

    [Fact]
    public void Kto_writes_two_rows_per_pair_chosen_true_then_rejected_false()
    {
        var rows = Rows(TrainerConfig.Kto, Conversational);

        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal(["prompt", "completion", "label", "prompt_id"], r.Keys));
        Assert.Equal([true, false], rows.Select(r => r["label"]));
        Assert.Equal(["assistant: Blue.", "assistant: Green."], rows.Select(r => Text(r["completion"])));
        Assert.All(rows, r => Assert.Equal("system: Be brief. | user: Sky colour?", Text(r["prompt"])));
        Assert.All(rows, r => Assert.Equal(Conversational.PromptId, r["prompt_id"]));
    }

    [Fact]
    public void Reward_rows_hold_the_whole_exchange_with_an_implicit_prompt()
    {
        var conversational = Assert.Single(Rows(TrainerConfig.Reward, Conversational, scores: true));
        var standard = Assert.Single(Rows(TrainerConfig.Reward, Standard));

        Assert.Equal("system: Be brief. | user: Sky colour? | assistant: Blue.", Text(conversational["chosen"]));
        Assert.Equal("system: Be brief. | user: Sky colour? | assistant: Green.", Text(conversational["rejected"]));
        Assert.False(conversational.ContainsKey("prompt"));
        Assert.Equal(5.0, conversational[TrainerRows.ScoreChosen]);
        Assert.Equal(2.0, conversational[TrainerRows.ScoreRejected]);
        Assert.Equal("The sky is blue.", standard["chosen"]);
        Assert.Equal("The sky is green.", standard["rejected"]);
    }

    [Fact]
    public void Sft_is_messages_when_conversational_and_prompt_completion_when_standard()
    {
        var conversational = Assert.Single(Rows(TrainerConfig.Sft, Conversational));
        var standard = Assert.Single(Rows(TrainerConfig.Sft, Standard));

        Assert.Equal(["messages", "prompt_id"], conversational.Keys);
        Assert.Equal("system: Be brief. | user: Sky colour? | assistant: Blue.", Text(conversational["messages"]));
        Assert.Equal(["prompt", "completion", "prompt_id"], standard.Keys);
        Assert.Equal(("The sky is", " blue."), (standard["prompt"], standard["completion"]));
    }

    [Fact]
    public void Dpo_keeps_the_pair_columns_and_adds_score_aliases_on_request()
    {
        var plain = Assert.Single(Rows(TrainerConfig.Dpo, Conversational));
        var scored = Assert.Single(Rows(TrainerConfig.Dpo, Conversational, scores: true));

        Assert.Equal(["prompt", "chosen", "rejected", "prompt_id", "chosen_model"], plain.Keys);
        Assert.Equal((5.0, 2.0), (scored[TrainerRows.ScoreChosen], scored[TrainerRows.ScoreRejected]));
    }

    [Fact]
    public void A_pair_mixing_strings_and_message_lists_is_refused()
    {
        var pair = Pair(Conversational);
        pair["prompt"] = "plain";

        var error = Assert.Throws<InvalidDataException>(() => TrainerRows.RowsOf(TrainerConfig.Kto, pair, [], false).ToList());

        Assert.Contains("all strings or all lists", error.Message);
    }
}
