using System.Globalization;
using Npgsql;

namespace Distil.Server.Storage;

/// <summary>
/// The <c>distil</c> schema and its migrations. Every process runs them at start; an advisory lock
/// makes concurrent starts wait for each other, and applied versions are recorded, so it is idempotent.
/// </summary>
internal static class PostgresSchema
{
    public const string Name = "distil";

    // A fixed key for pg_advisory_xact_lock; any constant unlikely to collide with other applications.
    private const long MigrationLockKey = 0x6469_7374_696C;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE distil.runs (
            id uuid PRIMARY KEY,
            pipeline text NOT NULL,
            definition_file text,
            definition_json text NOT NULL,
            trigger text NOT NULL,
            state text NOT NULL,
            shard_size integer NOT NULL,
            rows_total bigint,
            shard_count integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            output text,
            error text,
            summary text);
        CREATE INDEX runs_created_at ON distil.runs (created_at DESC);
        CREATE TABLE distil.shards (
            run_id uuid NOT NULL REFERENCES distil.runs (id) ON DELETE CASCADE,
            idx integer NOT NULL,
            row_offset bigint NOT NULL,
            row_limit bigint NOT NULL,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            worker text,
            started_at timestamptz,
            finished_at timestamptz,
            error text,
            PRIMARY KEY (run_id, idx));
        CREATE TABLE distil.shard_steps (
            run_id uuid NOT NULL,
            idx integer NOT NULL,
            ordinal integer NOT NULL,
            step text NOT NULL,
            rows_in bigint NOT NULL,
            rows_out bigint NOT NULL,
            errors bigint NOT NULL,
            dropped bigint NOT NULL,
            input_tokens bigint NOT NULL,
            output_tokens bigint NOT NULL,
            seconds double precision NOT NULL,
            PRIMARY KEY (run_id, idx, step),
            FOREIGN KEY (run_id, idx) REFERENCES distil.shards (run_id, idx) ON DELETE CASCADE);
        CREATE TABLE distil.shard_files (
            run_id uuid NOT NULL,
            idx integer NOT NULL,
            name text NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (run_id, idx, name),
            FOREIGN KEY (run_id, idx) REFERENCES distil.shards (run_id, idx) ON DELETE CASCADE);
        CREATE TABLE distil.schedules (
            id text PRIMARY KEY,
            pipeline text NOT NULL,
            definition_file text,
            definition_json text NOT NULL,
            cron text NOT NULL,
            shard_size integer NOT NULL,
            updated_at timestamptz NOT NULL);
        """,
        """
        CREATE TABLE distil.publications (
            run_id uuid NOT NULL REFERENCES distil.runs (id) ON DELETE CASCADE,
            step text NOT NULL,
            repo_url text,
            commit_url text,
            published_at timestamptz NOT NULL,
            PRIMARY KEY (run_id, step));
        """,
        """
        CREATE TABLE distil.blobs (
            digest text PRIMARY KEY,
            size bigint NOT NULL,
            chunks integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE distil.blob_chunks (
            digest text NOT NULL,
            idx integer NOT NULL,
            data bytea NOT NULL,
            PRIMARY KEY (digest, idx));
        CREATE TABLE distil.run_inputs (
            run_id uuid NOT NULL REFERENCES distil.runs (id) ON DELETE CASCADE,
            path text NOT NULL,
            digest text NOT NULL,
            PRIMARY KEY (run_id, path));
        """,
        "ALTER TABLE distil.shards ADD COLUMN rows_done bigint NOT NULL DEFAULT 0;",
        """
        CREATE TABLE distil.reviews (
            seq bigserial PRIMARY KEY,
            run_id uuid NOT NULL REFERENCES distil.runs (id) ON DELETE CASCADE,
            file text NOT NULL,
            row_index bigint NOT NULL,
            action text NOT NULL,
            reviewer text NOT NULL,
            reviewed_at timestamptz NOT NULL,
            digest text NOT NULL);
        CREATE INDEX reviews_run ON distil.reviews (run_id, seq);
        """,
        """
        CREATE TABLE distil.shard_models (
            run_id uuid NOT NULL REFERENCES distil.runs (id) ON DELETE CASCADE,
            idx integer NOT NULL,
            model text NOT NULL,
            concurrency_limit integer NOT NULL,
            in_flight integer NOT NULL,
            succeeded bigint NOT NULL,
            failed bigint NOT NULL,
            output_tokens bigint NOT NULL,
            seconds double precision NOT NULL,
            PRIMARY KEY (run_id, idx, model));
        """,
        "CREATE TABLE distil.run_spend (run_id uuid PRIMARY KEY REFERENCES distil.runs (id) ON DELETE CASCADE, spent_usd numeric NOT NULL DEFAULT 0);",
    ];

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, $"SELECT pg_advisory_xact_lock({MigrationLockKey})", cancellationToken);
        await Execute(connection, $"CREATE SCHEMA IF NOT EXISTS {Name}", cancellationToken);
        await Execute(connection, $"CREATE TABLE IF NOT EXISTS {Name}.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", cancellationToken);
        await using var read = new NpgsqlCommand($"SELECT coalesce(max(version), 0) FROM {Name}.schema_version", connection);
        var current = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        for (var version = current + 1; version <= Migrations.Length; version++)
        {
            await Execute(connection, Migrations[version - 1], cancellationToken);
            await Execute(connection, $"INSERT INTO {Name}.schema_version (version) VALUES ({version})", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public static int LatestVersion => Migrations.Length;

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
