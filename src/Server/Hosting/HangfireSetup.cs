using Distil.Server.Jobs;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;

namespace Distil.Server.Hosting;

/// <summary>Hangfire's storage and server for a serve or worker process.</summary>
internal static class HangfireSetup
{
    /// <summary>Age after which a Hangfire lock row counts as abandoned: the worst-case stall after a crash.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public static void AddDistilHangfire(this IServiceCollection services, ServiceOptions options)
    {
        services.AddHangfire(config =>
        {
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings();
            if (options.UsesPostgres)
            {
                config.UsePostgreSqlStorage(
                    bootstrap => bootstrap.UseNpgsqlConnection(options.PostgresConnectionString!),
                    new PostgreSqlStorageOptions
                    {
                        // Sliding: a live worker keeps extending its claim, so the timeout can be short
                        // (a dead worker's shard comes back quickly) without long shards being taken twice.
                        UseSlidingInvisibilityTimeout = true,
                        InvisibilityTimeout = options.InvisibilityTimeout,
                        QueuePollInterval = options.PollInterval,
                        // A Hangfire lock is a row in hangfire.lock, deleted by its holder. If the holder loses
                        // its connection first (Postgres restarting, the process killed), the row stays, and
                        // whoever needs that lock waits until the row is older than this: with the default of
                        // 10 minutes a job was seen stalled for 10 minutes. The locks guard short sections (a
                        // state change, a scheduler pass) that last milliseconds, so 30 s is far beyond a real hold.
                        DistributedLockTimeout = LockTimeout,
                        PrepareSchemaIfNecessary = true,
                    });
            }
            else
            {
                config.UseInMemoryStorage();
            }
        });

        if (options.Workers == 0)
        {
            // serve --workers 0: dashboard and API only; worker processes run the shards.
            return;
        }

        services.AddHangfireServer(server =>
        {
            server.ServerName = options.WorkerName;
            server.WorkerCount = options.Workers;
            server.Queues = [RunJobs.Queue];
            server.SchedulePollingInterval = TimeSpan.FromSeconds(1);
        });
    }
}
