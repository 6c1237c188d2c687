using System.Text.Json;
using System.Text.Json.Nodes;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;

namespace Distil.Judge.Tests;

/// <summary>Two generators and a judge on one device: a definition whose models cannot fit the device's stated
/// memory_budget is refused before any model is loaded, with each model's share.</summary>
[Collection(TinyModelCollection.Name)]
public class MemoryPlanTests(TinyModels tiny)
{
    [Fact]
    public void Models_that_exceed_the_device_budget_are_refused_with_the_numbers()
    {
        var info = ModelInfo.Read(tiny.A);
        var need = 3 * info.BytesFor(16, 4096);
        var definition = Definition(need - 1);
        var error = Assert.Throws<PipelineDefinitionException>(() => new ModelCatalog().CheckBeforeOpening(definition));
        Assert.Equal("$.devices.cpu.memory_budget", error.JsonPath);
        Assert.Contains(need.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), error.Message);
        foreach (var name in new[] { "gen-a", "gen-b", "judge" })
        {
            Assert.Contains(name, error.Message);
        }
    }

    [Fact]
    public void Models_that_fit_pass_the_check()
    {
        var info = ModelInfo.Read(tiny.A);
        new ModelCatalog().CheckBeforeOpening(Definition(3 * info.BytesFor(16, 4096)));
    }

    [Fact]
    public void A_budget_that_is_not_a_size_is_a_located_error()
    {
        var error = Assert.Throws<PipelineDefinitionException>(() => new ModelCatalog().CheckBeforeOpening(Definition("plenty")));
        Assert.Equal("$.devices.cpu.memory_budget", error.JsonPath);
    }

    private PipelineDefinition Definition(JsonNode budget)
    {
        var models = new JsonObject();
        foreach (var (name, path) in new[] { ("gen-a", tiny.A), ("gen-b", tiny.B), ("judge", tiny.A) })
        {
            models[name] = new JsonObject { ["type"] = "local", ["path"] = path, ["max_batch_size"] = 16, ["context"] = 4096 };
        }

        var folder = Directory.CreateDirectory(Path.Combine(tiny.Root, "plan-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        File.WriteAllText(Path.Combine(folder, "prompts.jsonl"), "{\"instruction\": \"hi\"}\n");
        var definition = new JsonObject
        {
            ["name"] = "plan",
            ["models"] = models,
            ["devices"] = new JsonObject { ["cpu"] = new JsonObject { ["memory_budget"] = budget } },
            ["steps"] = new JsonArray(
                new JsonObject { ["name"] = "load", ["type"] = "load_jsonl", ["path"] = "prompts.jsonl" },
                new JsonObject { ["name"] = "gen", ["type"] = "text_generation", ["model"] = "gen-a" },
                new JsonObject { ["name"] = "out", ["type"] = "write_jsonl", ["path"] = "out.jsonl" }),
        };
        var file = Path.Combine(folder, "plan.json");
        File.WriteAllText(file, definition.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return PipelineDefinition.Load(file, BuiltInSteps.CreateRegistry());
    }
}
