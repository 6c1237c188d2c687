using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Distil.Server.Api;
using Distil.Server.Hosting;

namespace Distil.Server.Client;

/// <summary>
/// What the CLI's submit/schedule/runs/cancel commands use: the JSON API over HTTP, with the dashboard
/// token (from <c>DISTIL_DASHBOARD_TOKEN</c>) as a bearer token when it is set.
/// </summary>
public sealed class ServiceClient : IDisposable
{
    public const string ServerVariable = "DISTIL_SERVER";
    public const string DefaultServer = "http://127.0.0.1:5080";

    private readonly HttpClient _http;

    public ServiceClient(string? server, string? token)
    {
        _http = new HttpClient { BaseAddress = new Uri(server ?? Environment.GetEnvironmentVariable(ServerVariable) ?? DefaultServer) };
        // Marks the request as not coming from a cross-site web page (see CrossSiteGuard); needed for cancel.
        _http.DefaultRequestHeaders.Add(Security.CrossSiteGuard.ClientHeader, "cli");
        token ??= Environment.GetEnvironmentVariable(ServiceOptions.TokenVariable);
        if (!string.IsNullOrEmpty(token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>Sends the definition's text and full path (see <see cref="SubmitRequest"/>).</summary>
    public async Task<SubmitResponse> SubmitAsync(string definitionPath, int? shardSize, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(definitionPath);
        var body = new SubmitRequest(await ReadDefinitionAsync(full, cancellationToken), full, shardSize);
        return await SendAsync<SubmitResponse>(HttpMethod.Post, "/api/runs", body, cancellationToken);
    }

    public async Task<ScheduleResponse> ScheduleAsync(string definitionPath, string cron, string? id, int? shardSize, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(definitionPath);
        var body = new ScheduleRequest(await ReadDefinitionAsync(full, cancellationToken), full, cron, id, shardSize);
        return await SendAsync<ScheduleResponse>(HttpMethod.Post, "/api/schedules", body, cancellationToken);
    }

    public Task<List<RunView>> ListRunsAsync(CancellationToken cancellationToken) =>
        SendAsync<List<RunView>>(HttpMethod.Get, "/api/runs", null, cancellationToken);

    /// <summary>The run's state and figures: the part of its detail page the CLI shows.</summary>
    public async Task<RunView> GetRunAsync(Guid id, CancellationToken cancellationToken) =>
        (await SendAsync<RunDetailView>(HttpMethod.Get, $"/api/runs/{id}", null, cancellationToken)).Run;

    public async Task CancelAsync(Guid id, CancellationToken cancellationToken) =>
        await SendAsync<object>(HttpMethod.Delete, $"/api/runs/{id}", null, cancellationToken);

    public async Task RemoveScheduleAsync(string id, CancellationToken cancellationToken) =>
        await SendAsync<ScheduleResponse>(HttpMethod.Delete, $"/api/schedules/{Uri.EscapeDataString(id)}", null, cancellationToken);

    public void Dispose() => _http.Dispose();

    private static async Task<string> ReadDefinitionAsync(string path, CancellationToken cancellationToken) =>
        File.Exists(path)
            ? await File.ReadAllTextAsync(path, cancellationToken)
            : throw new ServiceConfigurationException($"{path}: pipeline definition not found");

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: ApiJson.Options);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ServiceConfigurationException($"cannot reach the Distil server at {_http.BaseAddress} ({e.Message}); start it with 'distil serve' or pass --server");
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                return (await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, cancellationToken))!;
            }

            var error = response.StatusCode switch
            {
                HttpStatusCode.Unauthorized => $"the server wants the dashboard token: set {ServiceOptions.TokenVariable}",
                HttpStatusCode.Forbidden => $"the server refused this request (not loopback and no token configured there)",
                _ => await ReadErrorAsync(response, cancellationToken),
            };
            throw new ServiceConfigurationException($"{method} {path}: {error}");
        }
    }

    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return (await response.Content.ReadFromJsonAsync<ErrorResponse>(ApiJson.Options, cancellationToken))?.Error ?? response.ReasonPhrase ?? "";
        }
        catch (System.Text.Json.JsonException)
        {
            return $"{(int)response.StatusCode} {response.ReasonPhrase}";
        }
    }
}
