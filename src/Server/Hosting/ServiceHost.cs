using Distil.Pipeline;
using Distil.Server.Api;
using Distil.Server.Dashboard;
using Distil.Server.Jobs;
using Distil.Server.Security;
using Distil.Server.Storage;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Distil.Server.Hosting;

/// <summary>
/// Builds the two kinds of process: <c>serve</c> (web host: dashboard, API, /hangfire, plus a Hangfire
/// server) and <c>worker</c> (a Hangfire server only). Both take shards from the same storage.
/// </summary>
public static class ServiceHost
{
    public static async Task RunServeAsync(ServiceOptions options, CancellationToken cancellationToken)
    {
        var addresses = BindingPolicy.ListenAddresses(options.Urls);
        BindingPolicy.Check(addresses, options.DashboardToken);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls([.. addresses]);
        ConfigureLogging(builder.Logging);
        AddServices(builder.Services, options);
        builder.Services.AddDistilMetrics(options, prometheus: true);
        builder.Services.AddSingleton(new DashboardAccess(options.DashboardToken));
        // Registering antiforgery is what turns on Hangfire's dashboard check of its token on every POST.
        // Keys live in memory: a restart only makes open dashboard pages reload.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddAntiforgery();

        await using var app = builder.Build();
        var access = app.Services.GetRequiredService<DashboardAccess>();
        app.UseMiddleware<CrossSiteGuard>();
        app.UseMiddleware<DashboardAccessMiddleware>();
        app.UseHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new HangfireDashboardAuthorization(access)],
            DashboardTitle = "Distil jobs",
            AppPath = "/",
        });
        DashboardPage.Map(app);
        RunsApi.Map(app);
        ReviewApi.Map(app);
        EventsEndpoint.Map(app);
        app.MapPrometheusScrapingEndpoint(ServiceMetrics.ScrapePath);

        await PrepareAsync(app.Services, options, registerFolderSchedules: true, cancellationToken);
        await app.StartAsync(cancellationToken);
        try
        {
            // What Kestrel actually bound, whatever configured it (Kestrel settings in the environment or an
            // appsettings.json override --urls): the same rule, checked once more.
            BindingPolicy.Check(app.Urls, options.DashboardToken);
        }
        catch (ServiceConfigurationException)
        {
            await app.StopAsync(CancellationToken.None);
            throw;
        }

        await app.WaitForShutdownAsync(cancellationToken);
    }

    public static async Task RunWorkerAsync(ServiceOptions options, CancellationToken cancellationToken)
    {
        if (!options.UsesPostgres)
        {
            throw new ServiceConfigurationException(
                $"a worker needs the Postgres shared with serve: pass --postgres or set {ServiceOptions.PostgresVariable}");
        }

        if (options.MetricsPort is { } port)
        {
            await RunScrapedWorkerAsync(options, port, cancellationToken);
            return;
        }

        var builder = Host.CreateApplicationBuilder();
        ConfigureLogging(builder.Logging);
        AddServices(builder.Services, options);
        builder.Services.AddDistilMetrics(options, prometheus: false);
        using var host = builder.Build();
        await PrepareAsync(host.Services, options, registerFolderSchedules: false, cancellationToken);
        await host.RunAsync(cancellationToken);
    }

    /// <summary>
    /// A worker that also answers Prometheus scrapes of its own meter, on loopback only: it serves nothing else and has
    /// no token, so a scraper on the same machine (or a collector's sidecar) reads it; remote collection stays OTLP.
    /// </summary>
    private static async Task RunScrapedWorkerAsync(ServiceOptions options, int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        ConfigureLogging(builder.Logging);
        AddServices(builder.Services, options);
        builder.Services.AddDistilMetrics(options, prometheus: true, serviceName: "distil-worker");
        await using var app = builder.Build();
        app.MapPrometheusScrapingEndpoint(ServiceMetrics.ScrapePath);
        await PrepareAsync(app.Services, options, registerFolderSchedules: false, cancellationToken);
        await app.StartAsync(cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
    }

    internal static void AddServices(IServiceCollection services, ServiceOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<IRunStore>(options.UsesPostgres
            ? new PostgresRunStore(options.PostgresConnectionString!)
            : new InMemoryRunStore(Path.Combine(options.WorkDirectory, "results")));
        services.AddSingleton<StepRegistry>(_ => Distil.Steps.BuiltInSteps.CreateRegistry());
        services.AddSingleton<RunSubmission>();
        services.AddSingleton<RunInputs>();
        services.AddSingleton<ScheduleRegistry>();
        services.AddTransient<ShardExecutor>();
        services.AddTransient<DatasetMerger>();
        services.AddTransient<RunJobs>();
        services.AddDistilHangfire(options);
    }

    private static async Task PrepareAsync(IServiceProvider services, ServiceOptions options, bool registerFolderSchedules, CancellationToken cancellationToken)
    {
        await services.GetRequiredService<IRunStore>().InitializeAsync(cancellationToken);
        if (registerFolderSchedules && options.PipelinesDirectory is { } folder && Directory.Exists(folder))
        {
            await services.GetRequiredService<ScheduleRegistry>().RegisterFolderAsync(folder, cancellationToken);
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });

        // Request logs carry URLs (and so a ?token=…); ASP.NET Core's own chatter stays at warnings.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
    }
}
