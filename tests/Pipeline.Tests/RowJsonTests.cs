using System.Text;
using System.Text.Json;

namespace Distil.Pipeline.Tests;

/// <summary>Row values survive a trip through JSON (the JSONL format and the batch cache) with their types.</summary>
public sealed class RowJsonTests
{
    [Fact]
    public void Values_round_trip_with_their_types()
    {
        var row = new Row(7)
        {
            ["int"] = 1L,
            ["float_whole"] = 1.0,
            ["float"] = 0.1 + 0.2,
            ["big"] = 1e300,
            ["nan"] = double.NaN,
            ["flag"] = true,
            ["none"] = null,
            ["text"] = "héllo \"quoted\"\n",
            ["list"] = new List<object?> { 1L, 2.5, "x", null },
            ["messages"] = new List<object?>
            {
                new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" },
                new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = null },
            },
        };

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            RowJson.WriteRow(writer, row);
        }

        using var document = JsonDocument.Parse(Encoding.UTF8.GetString(stream.ToArray()));
        var back = RowJson.ToRow(7, document.RootElement);

        Assert.IsType<long>(back["int"]);
        Assert.IsType<double>(back["float_whole"]);
        Assert.Equal(1.0, back["float_whole"]);
        Assert.Equal(0.1 + 0.2, back["float"]);
        Assert.Equal(1e300, back["big"]);
        Assert.True(double.IsNaN((double)back["nan"]!));
        Assert.Equal(true, back["flag"]);
        Assert.True(back.Has("none"));
        Assert.Null(back["none"]);
        Assert.Equal("héllo \"quoted\"\n", back["text"]);
        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(back["list"]);
        Assert.Equal([1L, 2.5, "x", null], list);
        var messages = Assert.IsAssignableFrom<IReadOnlyList<object?>>(back["messages"]);
        var first = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(messages[0]);
        Assert.Equal("hi", first["content"]);
    }
}
