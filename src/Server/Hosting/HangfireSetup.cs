using Distil.Server.Jobs;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;

namespace Distil.Server.Hosting;

/// <summary>Hangfire's storage and server for a serve or worker process.</summary>
internal static class HangfireSetup
{
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
