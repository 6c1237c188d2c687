using Distil.Pipeline.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Distil.Server.Hosting;

/// <summary>
/// Exports the "Distil" meter of this process: to Prometheus through <c>GET /metrics</c> on serve, and over OTLP
/// (the .NET Aspire dashboard, an OpenTelemetry collector, Grafana Alloy) when an endpoint is configured. Workers
/// answer scrapes on loopback with <c>--metrics-port</c>; otherwise OTLP is how their shards' metrics leave the machine.
/// </summary>
public static class ServiceMetrics
{
    internal const string ScrapePath = "/metrics";

    /// <summary>The standard OpenTelemetry variable; <c>--otlp-endpoint</c> overrides it.</summary>
    internal const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <param name="serviceName">How the process reports itself (default: distil-serve with Prometheus, distil-worker without).</param>
    internal static void AddDistilMetrics(this IServiceCollection services, ServiceOptions options, bool prometheus, string? serviceName = null)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName ?? (prometheus ? "distil-serve" : "distil-worker"), serviceInstanceId: options.WorkerName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(DistilMetrics.MeterName);
                if (prometheus)
                {
                    metrics.AddPrometheusExporter();
                }

                if (options.OtlpEndpoint is { } endpoint)
                {
                    metrics.AddOtlpExporter(o =>
                    {
                        // Over HTTP the exporter posts to the URL as given, so a bare base URL gets the metrics path the
                        // OTLP specification defines (what the SDK itself adds when it reads the variable).
                        o.Endpoint = o.Protocol == OtlpExportProtocol.HttpProtobuf && endpoint.AbsolutePath == "/"
                            ? new Uri(endpoint, "v1/metrics")
                            : endpoint;
                    });
                }
            });
    }

    /// <summary>The endpoint from the option or the environment; a value that is not an absolute http(s) URL is refused, naming where it came from.</summary>
    public static Uri? ReadOtlpEndpoint(string? option)
    {
        var (value, source) = string.IsNullOrWhiteSpace(option)
            ? (Environment.GetEnvironmentVariable(OtlpEndpointVariable), OtlpEndpointVariable)
            : (option, "--otlp-endpoint");
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ServiceConfigurationException($"{source}: '{value}' is not an http(s) URL (for example http://127.0.0.1:4317)");
    }
}
