using Distil.Engine.Text;

namespace Distil.Engine.Tests.Text;

public sealed class StopSequenceMatcherTests
{
    [Fact]
    public void Text_without_stops_passes_through()
    {
        var matcher = new StopSequenceMatcher(["###"]);
        Assert.Equal(new StopSequenceResult("hello ", false), matcher.Push("hello "));
        Assert.Equal(new StopSequenceResult("world", false), matcher.Push("world"));
    }

    [Fact]
    public void Stop_inside_a_chunk_cuts_the_text_before_it()
    {
        var matcher = new StopSequenceMatcher(["\nUser:"]);
        Assert.Equal(new StopSequenceResult("Answer.", true), matcher.Push("Answer.\nUser: more"));
        Assert.True(matcher.Stopped);
        Assert.Equal("\nUser:", matcher.MatchedStop);
        Assert.Equal(new StopSequenceResult("", true), matcher.Push("ignored"));
    }

    [Fact]
    public void Stop_split_across_chunks_is_held_back_then_withheld()
    {
        var matcher = new StopSequenceMatcher(["</end>"]);
        Assert.Equal(new StopSequenceResult("abc", false), matcher.Push("abc</e"));
        Assert.Equal(new StopSequenceResult("", false), matcher.Push("n"));
        Assert.Equal(new StopSequenceResult("", true), matcher.Push("d>tail"));
    }

    [Fact]
    public void Held_text_that_stops_being_a_prefix_is_released()
    {
        var matcher = new StopSequenceMatcher(["</end>"]);
        Assert.Equal("x", matcher.Push("x</").Text);
        Assert.Equal("</b>", matcher.Push("b>").Text);
        Assert.Equal("ok<", matcher.Push("ok<").Text + matcher.Flush());
    }

    [Fact]
    public void Earliest_of_several_stops_wins()
    {
        var matcher = new StopSequenceMatcher(["STOP", "halt"]);
        var result = matcher.Push("go halt then STOP");
        Assert.Equal(new StopSequenceResult("go ", true), result);
        Assert.Equal("halt", matcher.MatchedStop);
    }

    [Fact]
    public void No_stops_means_nothing_is_held()
    {
        var matcher = new StopSequenceMatcher([]);
        Assert.Equal(new StopSequenceResult("a</", false), matcher.Push("a</"));
        Assert.Equal("", matcher.Flush());
    }
}
