using Distil.Server.Storage;
using Distil.Server.Tests.Infrastructure;
using Npgsql;

namespace Distil.Server.Tests;

/// <summary>Both run stores keep the same promises: idempotent shard completion, one "all done", cancellation.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RunStoreTests(PostgresServer postgres) : IDisposable
{
    private readonly TestWorkspace _workspace = new();

    public static TheoryData<string> Stores => new() { "postgres", "memory" };

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Completing_a_shard_twice_keeps_one_copy_of_its_rows(string kind)
    {
        var store = await CreateAsync(kind);
        var run = await NewRunAsync(store, shards: 2);
        Assert.NotNull(await store.StartShardAsync(run, 0, "a", default));

        var first = await store.CompleteShardAsync(run, 0, [File("rows.parquet", "first")], [], default);
        var second = await store.CompleteShardAsync(run, 0, [File("rows.parquet", "second")], [], default);

        Assert.Equal(new ShardCompletion(true, false), first);
        Assert.Equal(new ShardCompletion(false, false), second);
        Assert.Equal(["rows.parquet"], await store.GetShardFileNamesAsync(run, 0, default));
        Assert.Equal("first", await ReadAsync(store, run, 0, "rows.parquet"));
        Assert.Null(await store.StartShardAsync(run, 0, "b", default)); // a done shard is not run again
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Concurrent_completions_of_the_last_shards_start_one_merge(string kind)
    {
        var store = await CreateAsync(kind);
        const int shards = 8;
        var run = await NewRunAsync(store, shards);
        for (var i = 0; i < shards; i++)
        {
            await store.StartShardAsync(run, i, "w", default);
        }

        var completions = await Task.WhenAll(Enumerable.Range(0, shards).Select(i =>
            Task.Run(() => store.CompleteShardAsync(run, i, [File("rows.parquet", $"shard {i}")], [new StepCounts("load", 10, 10, 0, 0, 0, 0, 0.1)], default))));

        Assert.Single(completions, c => c.AllShardsDone);
        Assert.All(completions, c => Assert.True(c.Recorded));
        Assert.True(await store.BeginMergeAsync(run, default));
        var details = (await store.GetRunAsync(run, default))!;
        Assert.Equal(RunState.Merging, details.Run.State);
        Assert.Equal(80, Assert.Single(details.Steps).RowsOut);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Cancelled_run_gives_out_no_more_shards_and_cannot_merge(string kind)
    {
        var store = await CreateAsync(kind);
        var run = await NewRunAsync(store, shards: 2);
        Assert.True(await store.CancelRunAsync(run, default));
        Assert.False(await store.CancelRunAsync(run, default));
        Assert.Null(await store.StartShardAsync(run, 1, "w", default));
        Assert.False(await store.BeginMergeAsync(run, default));
        Assert.Equal(RunState.Cancelled, await store.GetRunStateAsync(run, default));
    }

    [Fact]
    public async Task Migrations_run_once_when_several_processes_start_together()
    {
        var database = await postgres.CreateDatabaseAsync("migrate");
        var stores = Enumerable.Range(0, 4).Select(_ => new PostgresRunStore(database)).ToList();
        await Task.WhenAll(stores.Select(s => s.InitializeAsync(default)));
        await stores[0].InitializeAsync(default);

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*), max(version) FROM distil.schema_version", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(reader.GetInt64(0), reader.GetInt32(1));
        Assert.Equal(Storage.PostgresSchema.LatestVersion, reader.GetInt32(1));
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }

    private async Task<IRunStore> CreateAsync(string kind)
    {
        IRunStore store = kind == "postgres"
            ? new PostgresRunStore(await postgres.CreateDatabaseAsync("store"))
            : new InMemoryRunStore(Path.Combine(_workspace.Root, "results"));
        await store.InitializeAsync(default);
        return store;
    }

    private static async Task<Guid> NewRunAsync(IRunStore store, int shards)
    {
        var id = Guid.NewGuid();
        await store.CreateRunAsync(new NewRun(id, "p", "/p.json", "{}", 10, "test"), default);
        Assert.True(await store.PlanShardsAsync(id, shards * 10, Jobs.ShardPlanner.Plan(shards * 10, 10), default));
        Assert.False(await store.PlanShardsAsync(id, shards * 10, Jobs.ShardPlanner.Plan(shards * 10, 10), default));
        return id;
    }

    private ShardFile File(string name, string content)
    {
        var path = Path.Combine(_workspace.Root, $"{Guid.NewGuid():N}-{name}");
        System.IO.File.WriteAllText(path, content);
        return new ShardFile(name, path);
    }

    private static async Task<string> ReadAsync(IRunStore store, Guid run, int shard, string name)
    {
        using var buffer = new MemoryStream();
        await store.CopyShardFileAsync(run, shard, name, buffer, default);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    public void Dispose() => _workspace.Dispose();
}
