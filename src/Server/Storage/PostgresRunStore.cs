using Distil.Server.Jobs;
using System.Data;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Distil.Server.Storage;

/// <summary>
/// The run store in Postgres (schema <c>distil</c>), shared by every serve/worker process. Shard files
/// live in <c>distil.shard_files</c> as bytea, written in the same transaction that marks the shard done.
/// </summary>
internal sealed class PostgresRunStore : IRunStore, IAsyncDisposable
{
    private const string RunColumns =
        "r.id, r.pipeline, r.definition_file, r.trigger, r.state, r.shard_size, r.rows_total, r.shard_count, " +
        "(SELECT count(*) FROM distil.shards s WHERE s.run_id = r.id AND s.state = 'Succeeded')::int, " +
        "r.created_at, r.started_at, r.finished_at, r.output, r.error, " +
        "(SELECT coalesce(sum(CASE WHEN s.state = 'Succeeded' THEN greatest(0, least(s.row_limit, coalesce(r.rows_total, 0) - s.row_offset)) " +
        "ELSE least(s.row_limit, s.rows_done) END), 0) " +
        "FROM distil.shards s WHERE s.run_id = r.id)::bigint";

    private readonly NpgsqlDataSource _dataSource;

    public PostgresRunStore(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    public Task InitializeAsync(CancellationToken cancellationToken) =>
        TransientRetry.RunAsync(ct => PostgresSchema.MigrateAsync(_dataSource, ct), cancellationToken);

    public Task CreateRunAsync(NewRun run, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO distil.runs (id, pipeline, definition_file, definition_json, trigger, state, shard_size, created_at) " +
            "VALUES ($1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (id) DO NOTHING");
        command.Parameters.Add(new() { Value = run.Id });
        command.Parameters.Add(new() { Value = run.Pipeline });
        command.Parameters.Add(new() { Value = (object?)run.DefinitionFile ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = run.DefinitionJson });
        command.Parameters.Add(new() { Value = run.Trigger });
        command.Parameters.Add(new() { Value = nameof(RunState.Planning) });
        command.Parameters.Add(new() { Value = run.ShardSize });
        await command.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task<(string Json, string? File)?> GetDefinitionAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync<(string, string?)?>(async ct =>
    {
        await using var command = _dataSource.CreateCommand("SELECT definition_json, definition_file FROM distil.runs WHERE id = $1");
        command.Parameters.Add(new() { Value = runId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }, cancellationToken);

    public Task<bool> PlanShardsAsync(Guid runId, long rowsTotal, IReadOnlyList<ShardRange> shards, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await LockRunAsync(connection, runId, ct) != RunState.Planning)
        {
            return false;
        }

        foreach (var shard in shards)
        {
            await using var insert = new NpgsqlCommand(
                "INSERT INTO distil.shards (run_id, idx, row_offset, row_limit, state) VALUES ($1, $2, $3, $4, 'Pending')", connection);
            insert.Parameters.Add(new() { Value = runId });
            insert.Parameters.Add(new() { Value = shard.Index });
            insert.Parameters.Add(new() { Value = shard.Offset });
            insert.Parameters.Add(new() { Value = shard.Limit });
            await insert.ExecuteNonQueryAsync(ct);
        }

        await using var update = new NpgsqlCommand(
            "UPDATE distil.runs SET state = 'Running', rows_total = $2, shard_count = $3, started_at = now() WHERE id = $1", connection);
        update.Parameters.Add(new() { Value = runId });
        update.Parameters.Add(new() { Value = rowsTotal });
        update.Parameters.Add(new() { Value = shards.Count });
        await update.ExecuteNonQueryAsync(ct);
        await transaction.CommitAsync(ct);
        return true;
    }, cancellationToken);

    public Task<ShardRange?> StartShardAsync(Guid runId, int shard, string worker, CancellationToken cancellationToken) => TransientRetry.RunAsync<ShardRange?>(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE distil.shards s SET state = 'Running', attempts = attempts + 1, worker = $3, started_at = now() " +
            "FROM distil.runs r WHERE s.run_id = $1 AND s.idx = $2 AND r.id = s.run_id AND s.state <> 'Succeeded' AND r.state = 'Running' " +
            "RETURNING s.row_offset, s.row_limit");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = shard });
        command.Parameters.Add(new() { Value = worker });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new ShardRange(shard, reader.GetInt64(0), reader.GetInt64(1)) : null;
    }, cancellationToken);

    public Task ReportShardProgressAsync(Guid runId, int shard, IReadOnlyList<StepCounts> steps, long rowsDone, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await WriteStepsAsync(connection, runId, shard, steps, ct);
        await using (var done = new NpgsqlCommand("UPDATE distil.shards SET rows_done = $3 WHERE run_id = $1 AND idx = $2 AND state <> 'Succeeded'", connection))
        {
            done.Parameters.Add(new() { Value = runId });
            done.Parameters.Add(new() { Value = shard });
            done.Parameters.Add(new() { Value = rowsDone });
            await done.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }, cancellationToken);

    public Task ReportShardModelsAsync(Guid runId, int shard, IReadOnlyList<ShardModelActivity> models, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var batch = _dataSource.CreateBatch();
        foreach (var m in models)
        {
            var command = new NpgsqlBatchCommand(
                "INSERT INTO distil.shard_models (run_id, idx, model, concurrency_limit, in_flight, succeeded, failed, output_tokens, seconds) " +
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id, idx, model) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, " +
                "in_flight = excluded.in_flight, succeeded = excluded.succeeded, failed = excluded.failed, output_tokens = excluded.output_tokens, seconds = excluded.seconds");
            foreach (var value in new object[] { runId, shard, m.Model, m.Activity.ConcurrencyLimit, m.Activity.InFlight, m.Activity.Succeeded, m.Activity.Failed, m.Activity.OutputTokens, m.Seconds })
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            }

            batch.BatchCommands.Add(command);
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
    }, cancellationToken);

    public Task<ShardCompletion> CompleteShardAsync(Guid runId, int shard, IReadOnlyList<ShardFile> files, IReadOnlyList<StepCounts> steps, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Completions of one run are serialized on the run's row, so exactly one of them sees "none left".
        var state = await LockRunAsync(connection, runId, ct);
        await using var mark = new NpgsqlCommand(
            "UPDATE distil.shards SET state = 'Succeeded', finished_at = now(), error = NULL WHERE run_id = $1 AND idx = $2 AND state <> 'Succeeded'",
            connection);
        mark.Parameters.Add(new() { Value = runId });
        mark.Parameters.Add(new() { Value = shard });
        var recorded = await mark.ExecuteNonQueryAsync(ct) == 1;
        // A shard that finishes after its run failed or was cancelled keeps no data: nothing will merge it.
        if (recorded && state is not (RunState.Failed or RunState.Cancelled))
        {
            foreach (var file in files)
            {
                await using var data = File.OpenRead(file.LocalPath);
                await using var insert = new NpgsqlCommand("INSERT INTO distil.shard_files (run_id, idx, name, data) VALUES ($1, $2, $3, $4)", connection);
                insert.Parameters.Add(new() { Value = runId });
                insert.Parameters.Add(new() { Value = shard });
                insert.Parameters.Add(new() { Value = file.Name });
                insert.Parameters.Add(new() { Value = data, NpgsqlDbType = NpgsqlDbType.Bytea });
                await insert.ExecuteNonQueryAsync(ct);
            }

            await WriteStepsAsync(connection, runId, shard, steps, ct);
        }

        await using var left = new NpgsqlCommand("SELECT count(*) FROM distil.shards WHERE run_id = $1 AND state <> 'Succeeded'", connection);
        left.Parameters.Add(new() { Value = runId });
        var remaining = (long)(await left.ExecuteScalarAsync(ct))!;
        await transaction.CommitAsync(ct);
        return new ShardCompletion(recorded, remaining == 0 && state is RunState.Running or RunState.Merging);
    }, cancellationToken);

    public Task RecordShardErrorAsync(Guid runId, int shard, string error, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE distil.shards SET state = CASE WHEN state = 'Succeeded' THEN state ELSE 'Pending' END, error = $3 WHERE run_id = $1 AND idx = $2");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = shard });
        command.Parameters.Add(new() { Value = error });
        await command.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task<IReadOnlyList<string>> GetShardFileNamesAsync(Guid runId, int shard, CancellationToken cancellationToken) => TransientRetry.RunAsync<IReadOnlyList<string>>(async ct =>
    {
        await using var command = _dataSource.CreateCommand("SELECT name FROM distil.shard_files WHERE run_id = $1 AND idx = $2 ORDER BY name");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = shard });
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }, cancellationToken);

    public Task CopyShardFileAsync(Guid runId, int shard, string name, Stream destination, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        destination.SetLength(0);
        await using var command = _dataSource.CreateCommand("SELECT data FROM distil.shard_files WHERE run_id = $1 AND idx = $2 AND name = $3");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = shard });
        command.Parameters.Add(new() { Value = name });
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        if (!await reader.ReadAsync(ct))
        {
            throw new InvalidOperationException($"run {runId} shard {shard} has no stored file '{name}'");
        }

        await using var data = await reader.GetStreamAsync(0, ct);
        await data.CopyToAsync(destination, ct);
    }, cancellationToken);

    public Task<bool> BeginMergeAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE distil.runs SET state = 'Merging' WHERE id = $1 AND state IN ('Running', 'Merging') " +
            "AND NOT EXISTS (SELECT 1 FROM distil.shards WHERE run_id = $1 AND state <> 'Succeeded')");
        command.Parameters.Add(new() { Value = runId });
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }, cancellationToken);

    public Task FinishRunAsync(Guid runId, string output, string summaryJson, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var finish = new NpgsqlCommand(
            "UPDATE distil.runs SET state = 'Succeeded', finished_at = now(), output = $2, summary = $3, error = NULL WHERE id = $1 AND state = 'Merging'", connection);
        finish.Parameters.Add(new() { Value = runId });
        finish.Parameters.Add(new() { Value = output });
        finish.Parameters.Add(new() { Value = summaryJson });
        if (await finish.ExecuteNonQueryAsync(ct) == 1)
        {
            await using var drop = new NpgsqlCommand("DELETE FROM distil.shard_files WHERE run_id = $1", connection);
            drop.Parameters.Add(new() { Value = runId });
            await drop.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }, cancellationToken);

    public Task FailRunAsync(Guid runId, string error, CancellationToken cancellationToken) =>
        SetTerminalAsync(runId, RunState.Failed, error, cancellationToken);

    public async Task<bool> CancelRunAsync(Guid runId, CancellationToken cancellationToken) =>
        await SetTerminalAsync(runId, RunState.Cancelled, null, cancellationToken);

    public Task<decimal> ChargeAsync(Guid runId, decimal usd, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        // One row per run, updated in place: concurrent shards on any worker add to the same total.
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO distil.run_spend (run_id, spent_usd) VALUES ($1, $2) ON CONFLICT (run_id) DO UPDATE SET spent_usd = distil.run_spend.spent_usd + excluded.spent_usd RETURNING spent_usd");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = usd });
        return (decimal)(await command.ExecuteScalarAsync(ct))!;
    }, cancellationToken);

    public Task<bool> StopAtBudgetAsync(Guid runId, decimal spentUsd, decimal budgetUsd, CancellationToken cancellationToken) =>
        SetTerminalAsync(runId, RunState.Cancelled, BudgetStop.Message(spentUsd, budgetUsd), cancellationToken);

    public Task<RunState?> GetRunStateAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync<RunState?>(async ct =>
    {
        await using var command = _dataSource.CreateCommand("SELECT state FROM distil.runs WHERE id = $1");
        command.Parameters.Add(new() { Value = runId });
        return await command.ExecuteScalarAsync(ct) is string s ? Enum.Parse<RunState>(s) : null;
    }, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, CancellationToken cancellationToken) => TransientRetry.RunAsync<IReadOnlyList<RunRecord>>(async ct =>
    {
        await using var command = _dataSource.CreateCommand($"SELECT {RunColumns} FROM distil.runs r ORDER BY r.created_at DESC LIMIT $1");
        command.Parameters.Add(new() { Value = limit });
        var runs = new List<RunRecord>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            runs.Add(ReadRun(reader));
        }

        return runs;
    }, cancellationToken);

    public Task<RunDetails?> GetRunAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync<RunDetails?>(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        RunRecord run;
        string? summary;
        await using (var command = new NpgsqlCommand($"SELECT {RunColumns}, r.summary FROM distil.runs r WHERE r.id = $1", connection))
        {
            command.Parameters.Add(new() { Value = runId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            run = ReadRun(reader);
            summary = reader.IsDBNull(15) ? null : reader.GetString(15);
        }

        var shards = new List<ShardRecord>();
        await using (var command = new NpgsqlCommand(
            "SELECT idx, row_offset, row_limit, state, attempts, worker, started_at, finished_at, error FROM distil.shards WHERE run_id = $1 ORDER BY idx", connection))
        {
            command.Parameters.Add(new() { Value = runId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                shards.Add(new ShardRecord(
                    reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), Enum.Parse<ShardState>(reader.GetString(3)), reader.GetInt32(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5), Time(reader, 6), Time(reader, 7), reader.IsDBNull(8) ? null : reader.GetString(8)));
            }
        }

        var steps = new List<StepCounts>();
        await using (var command = new NpgsqlCommand(
            "SELECT step, sum(rows_in), sum(rows_out), sum(errors), sum(dropped), sum(input_tokens), sum(output_tokens), sum(seconds) " +
            "FROM distil.shard_steps WHERE run_id = $1 GROUP BY step ORDER BY min(ordinal)", connection))
        {
            command.Parameters.Add(new() { Value = runId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                steps.Add(new StepCounts(
                    reader.GetString(0), Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture),
                    Convert.ToInt64(reader.GetValue(4), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(5), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(6), CultureInfo.InvariantCulture), reader.GetDouble(7)));
            }
        }

        var publications = new List<Publication>();
        await using (var command = new NpgsqlCommand(
            "SELECT step, repo_url, commit_url, published_at FROM distil.publications WHERE run_id = $1 ORDER BY step", connection))
        {
            command.Parameters.Add(new() { Value = runId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                publications.Add(new Publication(
                    reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), Time(reader, 3)!.Value));
            }
        }

        var models = new List<ShardModelActivity>();
        await using (var command = new NpgsqlCommand(
            "SELECT idx, model, concurrency_limit, in_flight, succeeded, failed, output_tokens, seconds FROM distil.shard_models WHERE run_id = $1 ORDER BY model, idx", connection))
        {
            command.Parameters.Add(new() { Value = runId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                models.Add(new ShardModelActivity(reader.GetInt32(0), reader.GetString(1),
                    new Distil.Pipeline.ModelActivity(reader.GetInt32(2), reader.GetInt32(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)), reader.GetDouble(7)));
            }
        }

        return new RunDetails(run, shards, steps, summary, publications, models);
    }, cancellationToken);

    public Task StoreInputAsync(Guid runId, string path, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        // First pass: the digest, so content already stored (by any run) is not sent again.
        var (digest, size) = await DigestAsync(path, ct);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using (var known = new NpgsqlCommand("SELECT 1 FROM distil.blobs WHERE digest = $1", connection))
        {
            known.Parameters.Add(new() { Value = digest });
            if (await known.ExecuteScalarAsync(ct) is null)
            {
                await StoreBlobAsync(connection, path, digest, ct);
            }
        }

        await using var link = new NpgsqlCommand(
            "INSERT INTO distil.run_inputs (run_id, path, digest) VALUES ($1, $2, $3) ON CONFLICT (run_id, path) DO UPDATE SET digest = excluded.digest", connection);
        link.Parameters.Add(new() { Value = runId });
        link.Parameters.Add(new() { Value = path });
        link.Parameters.Add(new() { Value = digest });
        await link.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task<IReadOnlyList<RunInput>> GetInputsAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync<IReadOnlyList<RunInput>>(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT i.path, i.digest, b.size FROM distil.run_inputs i JOIN distil.blobs b ON b.digest = i.digest WHERE i.run_id = $1 ORDER BY i.path");
        command.Parameters.Add(new() { Value = runId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var inputs = new List<RunInput>();
        while (await reader.ReadAsync(ct))
        {
            inputs.Add(new RunInput(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        }

        return inputs;
    }, cancellationToken);

    public Task CopyInputAsync(string digest, Stream destination, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        destination.SetLength(0);
        await using var command = _dataSource.CreateCommand("SELECT data FROM distil.blob_chunks WHERE digest = $1 ORDER BY idx");
        command.Parameters.Add(new() { Value = digest });
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        while (await reader.ReadAsync(ct))
        {
            await using var chunk = await reader.GetStreamAsync(0, ct);
            await chunk.CopyToAsync(destination, ct);
        }
    }, cancellationToken);

    /// <summary>Chunks of this size keep each row small and each statement's memory bounded, whatever the file's size.</summary>
    private const int BlobChunkSize = 1 << 20;

    private static async Task<(string Digest, long Size)> DigestAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BlobChunkSize, FileOptions.SequentialScan);
        var hash = await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken);
        return (Convert.ToHexStringLower(hash), file.Length);
    }

    /// <summary>
    /// Second pass: the chunks, then the blob row, in one transaction, so a blob row always means complete content.
    /// Concurrent submissions of the same content write the same rows; conflicts are skipped. Content that changed
    /// between the passes is refused rather than stored under the wrong digest.
    /// </summary>
    private static async Task StoreBlobAsync(NpgsqlConnection connection, string path, string digest, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BlobChunkSize, FileOptions.SequentialScan);
        var buffer = new byte[BlobChunkSize];
        var index = 0;
        long size = 0;
        while (true)
        {
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = await file.ReadAsync(buffer.AsMemory(filled), cancellationToken)) > 0)
            {
                filled += read;
            }

            if (filled == 0 && index > 0)
            {
                break;
            }

            hash.AppendData(buffer, 0, filled);
            size += filled;
            await using (var chunk = new NpgsqlCommand("INSERT INTO distil.blob_chunks (digest, idx, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", connection, transaction))
            {
                chunk.Parameters.Add(new() { Value = digest });
                chunk.Parameters.Add(new() { Value = index });
                chunk.Parameters.Add(new() { Value = new ArraySegment<byte>(buffer, 0, filled), NpgsqlDbType = NpgsqlDbType.Bytea });
                await chunk.ExecuteNonQueryAsync(cancellationToken);
            }

            index++;
            if (filled < buffer.Length)
            {
                break;
            }
        }

        if (Convert.ToHexStringLower(hash.GetHashAndReset()) != digest)
        {
            throw new IOException($"{path} changed while it was being stored; submit again once it is complete");
        }

        await using (var blob = new NpgsqlCommand("INSERT INTO distil.blobs (digest, size, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", connection, transaction))
        {
            blob.Parameters.Add(new() { Value = digest });
            blob.Parameters.Add(new() { Value = size });
            blob.Parameters.Add(new() { Value = index });
            await blob.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task RecordPublicationAsync(Guid runId, Publication publication, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO distil.publications (run_id, step, repo_url, commit_url, published_at) VALUES ($1, $2, $3, $4, $5) " +
            "ON CONFLICT (run_id, step) DO UPDATE SET repo_url = excluded.repo_url, commit_url = excluded.commit_url, published_at = excluded.published_at");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = publication.Step });
        command.Parameters.Add(new() { Value = (object?)publication.RepoUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)publication.CommitUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = publication.PublishedAt });
        await command.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task AppendReviewAsync(Guid runId, Distil.Steps.ReviewEntry entry, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO distil.reviews (run_id, file, row_index, action, reviewer, reviewed_at, digest) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = entry.File });
        command.Parameters.Add(new() { Value = entry.Row });
        command.Parameters.Add(new() { Value = entry.Action });
        command.Parameters.Add(new() { Value = entry.Reviewer });
        command.Parameters.Add(new() { Value = entry.At });
        command.Parameters.Add(new() { Value = entry.Digest });
        await command.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task<IReadOnlyList<Distil.Steps.ReviewEntry>> GetReviewsAsync(Guid runId, CancellationToken cancellationToken) => TransientRetry.RunAsync<IReadOnlyList<Distil.Steps.ReviewEntry>>(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT file, row_index, action, reviewer, reviewed_at, digest FROM distil.reviews WHERE run_id = $1 ORDER BY seq");
        command.Parameters.Add(new() { Value = runId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var entries = new List<Distil.Steps.ReviewEntry>();
        while (await reader.ReadAsync(ct))
        {
            entries.Add(new(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5)));
        }

        return entries;
    }, cancellationToken);

    public Task UpsertScheduleAsync(ScheduleRecord schedule, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO distil.schedules (id, pipeline, definition_file, definition_json, cron, shard_size, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now()) " +
            "ON CONFLICT (id) DO UPDATE SET pipeline = excluded.pipeline, definition_file = excluded.definition_file, " +
            "definition_json = excluded.definition_json, cron = excluded.cron, shard_size = excluded.shard_size, updated_at = now()");
        command.Parameters.Add(new() { Value = schedule.Id });
        command.Parameters.Add(new() { Value = schedule.Pipeline });
        command.Parameters.Add(new() { Value = (object?)schedule.DefinitionFile ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = schedule.DefinitionJson });
        command.Parameters.Add(new() { Value = schedule.Cron });
        command.Parameters.Add(new() { Value = schedule.ShardSize });
        await command.ExecuteNonQueryAsync(ct);
    }, cancellationToken);

    public Task<ScheduleRecord?> GetScheduleAsync(string id, CancellationToken cancellationToken) => TransientRetry.RunAsync<ScheduleRecord?>(async ct =>
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT id, pipeline, definition_file, definition_json, cron, shard_size FROM distil.schedules WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new ScheduleRecord(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5))
            : null;
    }, cancellationToken);

    public Task<bool> DeleteScheduleAsync(string id, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var command = _dataSource.CreateCommand("DELETE FROM distil.schedules WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }, cancellationToken);

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>Ends a run that did not succeed; the shard files stored so far go with it, since no merge will read them.</summary>
    private Task<bool> SetTerminalAsync(Guid runId, RunState state, string? error, CancellationToken cancellationToken) => TransientRetry.RunAsync(async ct =>
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand(
            "UPDATE distil.runs SET state = $2, error = coalesce($3, error), finished_at = now() WHERE id = $1 AND state NOT IN ('Succeeded', 'Failed', 'Cancelled')", connection);
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = state.ToString() });
        command.Parameters.Add(new() { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var ended = await command.ExecuteNonQueryAsync(ct) == 1;
        if (ended)
        {
            await using var drop = new NpgsqlCommand("DELETE FROM distil.shard_files WHERE run_id = $1", connection);
            drop.Parameters.Add(new() { Value = runId });
            await drop.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        return ended;
    }, cancellationToken);

    private static async Task<RunState?> LockRunAsync(NpgsqlConnection connection, Guid runId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT state FROM distil.runs WHERE id = $1 FOR UPDATE", connection);
        command.Parameters.Add(new() { Value = runId });
        return await command.ExecuteScalarAsync(ct) is string s ? Enum.Parse<RunState>(s) : null;
    }

    private static async Task WriteStepsAsync(NpgsqlConnection connection, Guid runId, int shard, IReadOnlyList<StepCounts> steps, CancellationToken ct)
    {
        for (var ordinal = 0; ordinal < steps.Count; ordinal++)
        {
            var s = steps[ordinal];
            await using var upsert = new NpgsqlCommand(
                "INSERT INTO distil.shard_steps (run_id, idx, ordinal, step, rows_in, rows_out, errors, dropped, input_tokens, output_tokens, seconds) " +
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (run_id, idx, step) DO UPDATE SET ordinal = excluded.ordinal, " +
                "rows_in = excluded.rows_in, rows_out = excluded.rows_out, errors = excluded.errors, dropped = excluded.dropped, " +
                "input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, seconds = excluded.seconds",
                connection);
            upsert.Parameters.Add(new() { Value = runId });
            upsert.Parameters.Add(new() { Value = shard });
            upsert.Parameters.Add(new() { Value = ordinal });
            upsert.Parameters.Add(new() { Value = s.Step });
            upsert.Parameters.Add(new() { Value = s.RowsIn });
            upsert.Parameters.Add(new() { Value = s.RowsOut });
            upsert.Parameters.Add(new() { Value = s.Errors });
            upsert.Parameters.Add(new() { Value = s.Dropped });
            upsert.Parameters.Add(new() { Value = s.InputTokens });
            upsert.Parameters.Add(new() { Value = s.OutputTokens });
            upsert.Parameters.Add(new() { Value = s.Seconds });
            await upsert.ExecuteNonQueryAsync(ct);
        }
    }

    private static RunRecord ReadRun(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), Enum.Parse<RunState>(r.GetString(4)), r.GetInt32(5),
        r.IsDBNull(6) ? null : r.GetInt64(6), r.GetInt32(7), r.GetInt32(8), r.GetFieldValue<DateTimeOffset>(9), Time(r, 10), Time(r, 11),
        r.IsDBNull(12) ? null : r.GetString(12), r.IsDBNull(13) ? null : r.GetString(13))
    {
        RowsDone = r.GetInt64(14),
    };

    private static DateTimeOffset? Time(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
}
