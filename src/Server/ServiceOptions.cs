namespace Distil.Server;

/// <summary>Settings of a serve or worker process. Secrets (the connection string, the token) are never logged or shown.</summary>
public sealed record ServiceOptions
{
    public const string PostgresVariable = "DISTIL_POSTGRES";
    public const string TokenVariable = "DISTIL_DASHBOARD_TOKEN";

    /// <summary>Postgres for Hangfire and the run store; null selects the in-memory single-process mode.</summary>
    public string? PostgresConnectionString { get; init; }

    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:5080"];

    /// <summary>Shards this process runs at once (each shard may itself use every core through its models); 0 runs no Hangfire server.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>How long a job fetched by a worker that stopped heart-beating stays invisible before another worker takes it.</summary>
    public TimeSpan InvisibilityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often idle workers look for jobs in Postgres.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Local scratch space: each shard's run folder (resumable) and, in memory mode, shard results.</summary>
    public string WorkDirectory { get; init; } = Path.Combine("runs", "service");

    /// <summary>Where merged datasets go: &lt;OutputDirectory&gt;/&lt;pipeline&gt;/&lt;run id&gt;/.</summary>
    public string OutputDirectory { get; init; } = "outputs";

    /// <summary>Definitions here that carry <c>"schedule"</c> become recurring jobs when serve starts.</summary>
    public string? PipelinesDirectory { get; init; } = "pipelines";

    /// <summary>Required when binding beyond loopback; then every request must present it.</summary>
    public string? DashboardToken { get; init; }

    /// <summary>Input rows per shard when a submission does not say.</summary>
    public int ShardSize { get; init; } = 500;

    /// <summary>Names this process in shard records and on the Hangfire dashboard.</summary>
    public string WorkerName { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>Where to push metrics over OTLP (gRPC unless OTEL_EXPORTER_OTLP_PROTOCOL says http/protobuf); null sends none.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>A worker's own Prometheus endpoint, <c>http://127.0.0.1:&lt;port&gt;/metrics</c>; null: none (serve always has one).</summary>
    public int? MetricsPort { get; init; }

    public bool UsesPostgres => !string.IsNullOrWhiteSpace(PostgresConnectionString);
}
