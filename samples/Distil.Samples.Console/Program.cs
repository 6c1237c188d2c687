// Distil as a library: the seed pipeline (two models answer, an UltraFeedback judge rates, best/worst become a DPO
// pair) built in C#, on tiny random-weight models the engine builds itself, one of them an IChatClient of this
// program wrapped in its own decorator. Runs it, then reads the Parquet it wrote.
//
//   dotnet run --project samples/Distil.Samples.Console -- [--work DIR] [--limit N]
//
// Everything lands in DIR (default ./distil-sample): models/, runs/, outputs/. A second run resumes from runs/.
using System.Globalization;
using Distil;
using Distil.Engine;
using Distil.Pipeline;
using Distil.Steps;
using Microsoft.Extensions.AI;
using Parquet;
using Parquet.Serialization;

var work = Path.GetFullPath(Option("--work") ?? "distil-sample");
var limit = Option("--limit") is { } n ? long.Parse(n, CultureInfo.InvariantCulture) : (long?)null;
var prompts = Path.Combine(AppContext.BaseDirectory, "prompts-mini.jsonl");
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // the run stops cleanly and keeps its finished batches
    cancel.Cancel();
};

// gen-b is a live IChatClient of this program: the local engine, decorated with a ChatClientBuilder pipeline that
// counts the calls going through it. Any IChatClient works here (Azure OpenAI, Ollama, ONNX Runtime GenAI, …).
var genB = Path.Combine(work, "models", "tiny-b");
await ModelFolderBuilder.EnsureBuiltAsync(genB, "tiny", 2, cancel.Token);
using var local = LocalModel.Load(genB, new LocalModelOptions { ChatTemplate = "llama3", Threads = 1 });
var calls = 0;
using var counted = new ChatClientBuilder(local)
    .Use(async (messages, options, next, cancellationToken) =>
    {
        Interlocked.Increment(ref calls);
        await next(messages, options, cancellationToken);
    })
    .Build();

var tiny = (string folder, ulong seed) => new LocalModelSettings(Path.Combine(work, "models", folder))
{
    Build = new ModelBuild("tiny", seed),
    ChatTemplate = "llama3",
    Threads = 1,
};
var sampling = (long seed) => new GenerationSettings { MaxNewTokens = 48, Temperature = 0.7, TopP = 0.95, Seed = seed };
var batched = new StepOptions { After = ["load"], InputBatchSize = 16, MaxParallelism = 2 };

var pipeline = DistilPipeline.Create("library-sample")
    .LocalModel("gen-a", tiny("tiny-a", 1))
    .Model("gen-b", counted, id: "tiny-b-counted", version: "1")
    .LocalModel("judge", tiny("tiny-judge", 3))
    .LoadJsonl("load", prompts)
    .Generate("gen_a", "gen-a", sampling(11), batched)
    .Generate("gen_b", "gen-b", sampling(12), batched)
    .Combine("combine", ["generation", "model_name", "prompt_messages", "generation_tokens"],
        ["generations", "model_names", "generation_prompts", "generation_tokens"], StepOptions.AfterSteps("gen_a", "gen_b"))
    .UltraFeedback("judge", new UltraFeedbackTask("judge")
    {
        Aspect = "overall-rating",
        RationaleMaxLength = 48,
        Generation = new GenerationSettings { Temperature = 0.7, Seed = 13 },
    }, new StepOptions { InputBatchSize = 16, MaxParallelism = 2 })
    .PreferencePairs("pairs", new PreferencePairsSettings { Strategy = "best_vs_worst", MinMargin = 1 })
    .WriteParquet("write", "data.parquet", ["prompt", "chosen", "rejected", "chosen_rating", "rejected_rating", "chosen_model", "rejected_model"])
    .DatasetCard("card", ["data.parquet"], StepOptions.AfterSteps("pairs"));

var manifest = await pipeline.RunAsync(new RunOptions
{
    RunsRoot = Path.Combine(work, "runs"),
    OutputDirectory = Path.Combine(work, "outputs"),
    Range = new SourceRange(0, limit),
}, cancel.Token);

Console.WriteLine($"run {manifest.Status}: {manifest.RunDirectory}");
foreach (var step in manifest.Steps)
{
    var tokens = step.Model is null ? "" : $", {step.InputTokens} tokens in, {step.OutputTokens} out ({step.Model})";
    Console.WriteLine($"  {step.Name}: {step.RowsIn} rows in, {step.RowsOut} out{tokens}");
}

Console.WriteLine($"gen-b calls through this program's decorator: {calls}");
var data = manifest.OutputFiles.Single(f => Path.GetFileName(f) == "data.parquet");
var margins = new List<double>();
int groups;
await using (var reader = await ParquetReader.CreateAsync(data))
{
    groups = reader.RowGroupCount;
}

for (var group = 0; group < groups; group++)
{
    // Untyped rows: one dictionary per row, null values left out.
    await using var file = File.OpenRead(data);
    var rows = await ParquetSerializer.DeserializeUntypedAsync(file, new ParquetOptions(), group, cancel.Token);
    margins.AddRange(rows.Data.Select(row => Rating(row, "chosen_rating") - Rating(row, "rejected_rating")));
}

Console.WriteLine(margins.Count == 0
    ? $"pairs: 0 in {data}"
    : $"pairs: {margins.Count} in {data}, mean rating margin {margins.Average().ToString("0.00", CultureInfo.InvariantCulture)}");
return 0;

static double Rating(IDictionary<string, object> row, string column) => Convert.ToDouble(row[column], CultureInfo.InvariantCulture);

static string? Option(string name)
{
    var args = Environment.GetCommandLineArgs();
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
